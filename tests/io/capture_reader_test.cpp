// CaptureReader tests on hand-written pcap files: microsecond and nanosecond magic, both
// byte orders, snapped frames, a truncated record, and the open errors (missing file,
// non-Ethernet link type).
#include "tapwall/capture_file.hpp"

#include <gtest/gtest.h>

#include "io_test_util.hpp"

namespace tapwall {
namespace {

using test::Bytes;
using test::frame_bytes;

Bytes pcap_header(uint32_t magic, uint32_t linktype, bool big_endian = false) {
  Bytes b;
  b.big_endian = big_endian;
  b.u32(magic).u16(2).u16(4).u32(0).u32(0).u32(65535).u32(linktype);
  return b;
}

void add_record(Bytes& b, uint32_t sec, uint32_t frac, const std::vector<uint8_t>& data,
                uint32_t orig_len) {
  b.u32(sec).u32(frac).u32(uint32_t(data.size())).u32(orig_len).raw(data);
}

std::unique_ptr<CaptureReader> open_ok(const std::string& path) {
  auto r = CaptureReader::open(path);
  if (auto* err = std::get_if<std::string>(&r)) {
    ADD_FAILURE() << *err;
    return nullptr;
  }
  return std::move(std::get<std::unique_ptr<CaptureReader>>(r));
}

TEST(CaptureReader, MicrosecondPcapTimestampsBecomeNanoseconds) {
  const std::string path = test::temp_path("us.pcap");
  Bytes b = pcap_header(0xa1b2c3d4, 1);
  const auto f1 = frame_bytes(60, 1), f2 = frame_bytes(1514, 2);
  add_record(b, 1700000000, 999999, f1, 60);
  add_record(b, 1700000001, 5, f2, 1514);
  test::write_all(path, b.v);
  auto r = open_ok(path);
  ASSERT_TRUE(r);
  CapturedFrame f;
  ASSERT_TRUE(r->next(f));
  EXPECT_EQ(f.ts_ns, 1700000000999999000ull);
  EXPECT_EQ(f.orig_len, 60u);
  EXPECT_EQ(std::vector<uint8_t>(f.bytes.begin(), f.bytes.end()), f1);
  ASSERT_TRUE(r->next(f));
  EXPECT_EQ(f.ts_ns, 1700000001000005000ull);
  EXPECT_EQ(std::vector<uint8_t>(f.bytes.begin(), f.bytes.end()), f2);
  EXPECT_FALSE(r->next(f));
  EXPECT_EQ(r->error(), "");
}

TEST(CaptureReader, NanosecondPcapKeepsEveryNanosecond) {
  const std::string path = test::temp_path("ns.pcap");
  Bytes b = pcap_header(0xa1b23c4d, 1);
  const auto f1 = frame_bytes(64, 3);
  add_record(b, 1700000000, 123456789, f1, 64);
  test::write_all(path, b.v);
  auto r = open_ok(path);
  ASSERT_TRUE(r);
  CapturedFrame f;
  ASSERT_TRUE(r->next(f));
  EXPECT_EQ(f.ts_ns, 1700000000123456789ull);
  EXPECT_EQ(std::vector<uint8_t>(f.bytes.begin(), f.bytes.end()), f1);
  EXPECT_FALSE(r->next(f));
}

TEST(CaptureReader, BigEndianPcapRead) {
  const std::string path = test::temp_path("be.pcap");
  Bytes b = pcap_header(0xa1b23c4d, 1, /*big_endian=*/true);
  const auto f1 = frame_bytes(70, 4);
  add_record(b, 2, 7, f1, 70);
  test::write_all(path, b.v);
  auto r = open_ok(path);
  ASSERT_TRUE(r);
  CapturedFrame f;
  ASSERT_TRUE(r->next(f));
  EXPECT_EQ(f.ts_ns, 2000000007ull);
  EXPECT_EQ(f.orig_len, 70u);
  EXPECT_EQ(std::vector<uint8_t>(f.bytes.begin(), f.bytes.end()), f1);
}

TEST(CaptureReader, SnappedFrameReportsWireLength) {
  const std::string path = test::temp_path("snap.pcap");
  Bytes b = pcap_header(0xa1b23c4d, 1);
  add_record(b, 1, 0, frame_bytes(96, 5), 1500);
  test::write_all(path, b.v);
  auto r = open_ok(path);
  ASSERT_TRUE(r);
  CapturedFrame f;
  ASSERT_TRUE(r->next(f));
  EXPECT_EQ(f.bytes.size(), 96u);
  EXPECT_EQ(f.orig_len, 1500u);
}

TEST(CaptureReader, EmptyCaptureEndsCleanly) {
  const std::string path = test::temp_path("empty.pcap");
  test::write_all(path, pcap_header(0xa1b2c3d4, 1).v);
  auto r = open_ok(path);
  ASSERT_TRUE(r);
  CapturedFrame f;
  EXPECT_FALSE(r->next(f));
  EXPECT_EQ(r->error(), "");
}

TEST(CaptureReader, TruncatedRecordIsAnError) {
  const std::string path = test::temp_path("trunc.pcap");
  Bytes b = pcap_header(0xa1b2c3d4, 1);
  add_record(b, 1, 0, frame_bytes(60, 6), 60);
  b.u32(2).u32(0).u32(60).u32(60).raw(frame_bytes(10, 7));  // 50 bytes missing
  test::write_all(path, b.v);
  auto r = open_ok(path);
  ASSERT_TRUE(r);
  CapturedFrame f;
  ASSERT_TRUE(r->next(f));
  EXPECT_FALSE(r->next(f));
  EXPECT_NE(r->error().find(path), std::string::npos) << r->error();
  EXPECT_NE(r->error().find("truncated"), std::string::npos) << r->error();
}

TEST(CaptureReader, MissingFileIsAnError) {
  const std::string path = test::temp_path("does_not_exist.pcap");
  auto r = CaptureReader::open(path);
  ASSERT_TRUE(std::holds_alternative<std::string>(r));
  EXPECT_NE(std::get<std::string>(r).find(path), std::string::npos) << std::get<std::string>(r);
}

TEST(CaptureReader, NonEthernetLinkTypeIsAnErrorNamingIt) {
  const std::string path = test::temp_path("raw.pcap");
  Bytes b = pcap_header(0xa1b2c3d4, 101);  // LINKTYPE_RAW: bare IP packets
  add_record(b, 1, 0, frame_bytes(40, 8), 40);
  test::write_all(path, b.v);
  auto r = CaptureReader::open(path);
  ASSERT_TRUE(std::holds_alternative<std::string>(r));
  const std::string& err = std::get<std::string>(r);
  EXPECT_NE(err.find("link type RAW"), std::string::npos) << err;
  EXPECT_NE(err.find(path), std::string::npos) << err;
}

TEST(CaptureReader, GarbageFileIsAnError) {
  const std::string path = test::temp_path("garbage.pcap");
  test::write_all(path, std::vector<uint8_t>(64, 0x5a));
  auto r = CaptureReader::open(path);
  EXPECT_TRUE(std::holds_alternative<std::string>(r));
}

}  // namespace
}  // namespace tapwall
