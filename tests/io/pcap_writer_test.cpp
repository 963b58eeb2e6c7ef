// PcapWriter tests: exact header/record bytes (nanosecond magic), snaplen, and a round trip
// through CaptureReader.
#include <gtest/gtest.h>

#include "io_test_util.hpp"
#include "tapwall/capture_file.hpp"

namespace tapwall {
namespace {

using test::frame_bytes;
using test::le16;
using test::le32;

TEST(PcapWriter, WritesNanosecondHeaderAndRecords) {
  const std::string path = test::temp_path("w.pcap");
  auto c = PcapWriter::create(path, 128);
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<PcapWriter>>(c)) << std::get<std::string>(c);
  auto& w = *std::get<std::unique_ptr<PcapWriter>>(c);
  const auto f0 = frame_bytes(60, 1), f1 = frame_bytes(200, 2);
  EXPECT_TRUE(w.write(1700000000123456789ull, f0));
  EXPECT_TRUE(w.write(5, f1, 9000));
  const uint64_t written = w.bytes_written();
  ASSERT_TRUE(w.close());
  const auto b = test::read_all(path);
  ASSERT_EQ(b.size(), 24u + 16 + 60 + 16 + 128);
  EXPECT_EQ(written, b.size());
  EXPECT_EQ(le32(b, 0), 0xa1b23c4du);
  EXPECT_EQ(le16(b, 4), 2);
  EXPECT_EQ(le16(b, 6), 4);
  EXPECT_EQ(le32(b, 16), 128u);  // snaplen
  EXPECT_EQ(le32(b, 20), 1u);    // LINKTYPE_ETHERNET
  EXPECT_EQ(le32(b, 24), 1700000000u);
  EXPECT_EQ(le32(b, 28), 123456789u);
  EXPECT_EQ(le32(b, 32), 60u);
  EXPECT_EQ(le32(b, 36), 60u);
  EXPECT_EQ(std::vector<uint8_t>(b.begin() + 40, b.begin() + 100), f0);
  EXPECT_EQ(le32(b, 100), 0u);
  EXPECT_EQ(le32(b, 104), 5u);
  EXPECT_EQ(le32(b, 108), 128u);  // cut to snaplen
  EXPECT_EQ(le32(b, 112), 9000u);
}

TEST(PcapWriter, RoundTripsThroughCaptureReader) {
  const std::string path = test::temp_path("rt.pcap");
  {
    auto c = PcapWriter::create(path);
    ASSERT_TRUE(std::holds_alternative<std::unique_ptr<PcapWriter>>(c));
    auto& w = *std::get<std::unique_ptr<PcapWriter>>(c);
    for (int i = 0; i < 50; ++i)
      ASSERT_TRUE(
          w.write(1000000000ull * uint64_t(i) + uint64_t(i), frame_bytes(60 + i, uint8_t(i))));
  }  // destructor closes
  auto r = CaptureReader::open(path);
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<CaptureReader>>(r))
      << std::get<std::string>(r);
  auto& reader = *std::get<std::unique_ptr<CaptureReader>>(r);
  CapturedFrame f;
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(reader.next(f)) << i;
    EXPECT_EQ(f.ts_ns, 1000000000ull * uint64_t(i) + uint64_t(i));
    EXPECT_EQ(std::vector<uint8_t>(f.bytes.begin(), f.bytes.end()),
              frame_bytes(60 + i, uint8_t(i)));
  }
  EXPECT_FALSE(reader.next(f));
}

TEST(PcapWriter, CreateInMissingDirectoryIsAnError) {
  auto c = PcapWriter::create("/nonexistent-tapwall-dir/x.pcap");
  ASSERT_TRUE(std::holds_alternative<std::string>(c));
  EXPECT_NE(std::get<std::string>(c).find("/nonexistent-tapwall-dir/x.pcap"), std::string::npos);
}

}  // namespace
}  // namespace tapwall
