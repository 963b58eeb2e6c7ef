// PcapngWriter tests: block structure walked byte by byte (lengths, padding, options),
// round trip through CaptureReader (nanosecond timestamps, bytes), snaplen, comment limits,
// and an independent check with tshark when it is installed.
#include "tapwall/capture_file.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "io_test_util.hpp"

namespace tapwall {
namespace {

using test::frame_bytes;
using test::le16;
using test::le32;

struct Epb {
  uint32_t iface;
  uint64_t ts;
  uint32_t caplen, origlen;
  std::vector<uint8_t> data;
  std::vector<std::string> comments;
};

struct Idb {
  uint16_t linktype;
  uint32_t snaplen;
  std::string name;
  std::vector<uint8_t> tsresol;
};

struct Parsed {
  int shb = 0;
  std::vector<Idb> idbs;
  std::vector<Epb> epbs;
};

// Walks options [code, len, value padded to 4] up to opt_endofopt; fails the test on any
// overrun or a missing terminator.
std::vector<std::pair<uint16_t, std::vector<uint8_t>>> parse_options(const std::vector<uint8_t>& b,
                                                                     std::size_t off,
                                                                     std::size_t end) {
  std::vector<std::pair<uint16_t, std::vector<uint8_t>>> out;
  while (true) {
    if (off + 4 > end) {
      ADD_FAILURE() << "options run past the block";
      return out;
    }
    const uint16_t code = le16(b, off), len = le16(b, off + 2);
    if (code == 0) {
      EXPECT_EQ(len, 0);
      EXPECT_EQ(off + 4, end) << "bytes after opt_endofopt";
      return out;
    }
    const std::size_t padded = (len + 3u) & ~3u;
    if (off + 4 + padded > end) {
      ADD_FAILURE() << "option value runs past the block";
      return out;
    }
    for (std::size_t i = len; i < padded; ++i) EXPECT_EQ(b[off + 4 + i], 0) << "padding not zero";
    out.emplace_back(code, std::vector<uint8_t>(b.begin() + long(off + 4),
                                                b.begin() + long(off + 4 + len)));
    off += 4 + padded;
  }
}

Parsed parse_pcapng(const std::vector<uint8_t>& b) {
  Parsed p;
  std::size_t off = 0;
  while (off < b.size()) {
    if (off + 12 > b.size()) {
      ADD_FAILURE() << "short block at " << off;
      return p;
    }
    const uint32_t type = le32(b, off), len = le32(b, off + 4);
    EXPECT_EQ(len % 4, 0u) << "block at " << off;
    if (len < 12 || off + len > b.size()) {
      ADD_FAILURE() << "bad block length " << len << " at " << off;
      return p;
    }
    EXPECT_EQ(le32(b, off + len - 4), len) << "trailing length at " << off;
    const std::size_t body_end = off + len - 4;
    if (type == 0x0A0D0D0A) {
      EXPECT_EQ(off, 0u) << "SHB must come first";
      EXPECT_EQ(le32(b, off + 8), 0x1A2B3C4Du);
      EXPECT_EQ(le16(b, off + 12), 1);
      EXPECT_EQ(le16(b, off + 14), 0);
      parse_options(b, off + 24, body_end);
      ++p.shb;
    } else if (type == 1) {
      Idb i;
      i.linktype = le16(b, off + 8);
      i.snaplen = le32(b, off + 12);
      for (auto& [code, val] : parse_options(b, off + 16, body_end)) {
        if (code == 2) i.name.assign(val.begin(), val.end());
        if (code == 9) i.tsresol = val;
      }
      p.idbs.push_back(i);
    } else if (type == 6) {
      Epb e;
      e.iface = le32(b, off + 8);
      e.ts = uint64_t(le32(b, off + 12)) << 32 | le32(b, off + 16);
      e.caplen = le32(b, off + 20);
      e.origlen = le32(b, off + 24);
      const std::size_t data_off = off + 28, padded = (e.caplen + 3u) & ~3u;
      if (data_off + padded > body_end) {
        ADD_FAILURE() << "packet data runs past the block";
        return p;
      }
      e.data.assign(b.begin() + long(data_off), b.begin() + long(data_off + e.caplen));
      if (data_off + padded < body_end) {
        for (auto& [code, val] : parse_options(b, data_off + padded, body_end))
          if (code == 1) e.comments.emplace_back(val.begin(), val.end());
      }
      p.epbs.push_back(e);
    } else {
      ADD_FAILURE() << "unexpected block type " << type;
    }
    off += len;
  }
  return p;
}

std::unique_ptr<PcapngWriter> create_ok(const std::string& path) {
  auto w = PcapngWriter::create(path);
  if (auto* err = std::get_if<std::string>(&w)) {
    ADD_FAILURE() << *err;
    return nullptr;
  }
  return std::move(std::get<std::unique_ptr<PcapngWriter>>(w));
}

// Two ports, three frames with odd lengths (padding), comments of every padding remainder,
// one frame without a comment.
struct Sample {
  std::vector<uint8_t> f0 = frame_bytes(60, 1), f1 = frame_bytes(61, 2), f2 = frame_bytes(1514, 3);
  static constexpr uint64_t kT0 = 1700000000123456789ull, kT1 = 1700000000123456790ull,
                            kT2 = 1800000001000000001ull;
  void write(PcapngWriter& w) {
    EXPECT_EQ(w.add_interface("eth0"), 0u);
    EXPECT_EQ(w.add_interface("tap0"), 1u);
    EXPECT_TRUE(w.write(0, kT0, f0, "rule_drop: vboxin#3"));
    EXPECT_TRUE(w.write(1, kT1, f1, "chain_policy"));
    EXPECT_TRUE(w.write(0, kT2, f2, ""));
  }
};

TEST(PcapngWriter, BlocksAreWellFormed) {
  const std::string path = test::temp_path("blocks.pcapng");
  auto w = create_ok(path);
  ASSERT_TRUE(w);
  Sample s;
  s.write(*w);
  const uint64_t written = w->bytes_written();
  ASSERT_TRUE(w->close());
  const auto bytes = test::read_all(path);
  EXPECT_EQ(written, bytes.size());
  const Parsed p = parse_pcapng(bytes);
  EXPECT_EQ(p.shb, 1);
  ASSERT_EQ(p.idbs.size(), 2u);
  EXPECT_EQ(p.idbs[0].name, "eth0");
  EXPECT_EQ(p.idbs[1].name, "tap0");
  for (const Idb& i : p.idbs) {
    EXPECT_EQ(i.linktype, 1);
    EXPECT_EQ(i.snaplen, 262144u);
    EXPECT_EQ(i.tsresol, std::vector<uint8_t>{9});
  }
  ASSERT_EQ(p.epbs.size(), 3u);
  EXPECT_EQ(p.epbs[0].iface, 0u);
  EXPECT_EQ(p.epbs[0].ts, Sample::kT0);
  EXPECT_EQ(p.epbs[0].data, s.f0);
  EXPECT_EQ(p.epbs[0].origlen, 60u);
  EXPECT_EQ(p.epbs[0].comments, std::vector<std::string>{"rule_drop: vboxin#3"});
  EXPECT_EQ(p.epbs[1].iface, 1u);
  EXPECT_EQ(p.epbs[1].ts, Sample::kT1);
  EXPECT_EQ(p.epbs[1].data, s.f1);
  EXPECT_EQ(p.epbs[1].comments, std::vector<std::string>{"chain_policy"});
  EXPECT_EQ(p.epbs[2].ts, Sample::kT2);
  EXPECT_EQ(p.epbs[2].data, s.f2);
  EXPECT_TRUE(p.epbs[2].comments.empty());
}

TEST(PcapngWriter, RoundTripsThroughCaptureReader) {
  const std::string path = test::temp_path("roundtrip.pcapng");
  auto w = create_ok(path);
  ASSERT_TRUE(w);
  Sample s;
  s.write(*w);
  ASSERT_TRUE(w->close());
  auto r = CaptureReader::open(path);
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<CaptureReader>>(r))
      << std::get<std::string>(r);
  auto& reader = *std::get<std::unique_ptr<CaptureReader>>(r);
  CapturedFrame f;
  const std::vector<std::pair<uint64_t, std::vector<uint8_t>>> want = {
      {Sample::kT0, s.f0}, {Sample::kT1, s.f1}, {Sample::kT2, s.f2}};
  for (const auto& [ts, data] : want) {
    ASSERT_TRUE(reader.next(f)) << reader.error();
    EXPECT_EQ(f.ts_ns, ts);
    EXPECT_EQ(f.orig_len, data.size());
    EXPECT_EQ(std::vector<uint8_t>(f.bytes.begin(), f.bytes.end()), data);
  }
  EXPECT_FALSE(reader.next(f));
  EXPECT_EQ(reader.error(), "");
}

TEST(PcapngWriter, TsharkReadsCommentsAndInterfaceNames) {
  if (std::system("command -v tshark >/dev/null 2>&1") != 0) GTEST_SKIP() << "tshark not installed";
  const std::string path = test::temp_path("tshark.pcapng");
  auto w = create_ok(path);
  ASSERT_TRUE(w);
  Sample s;
  s.write(*w);
  ASSERT_TRUE(w->close());
  const std::string cmd = "tshark -r '" + path +
                          "' -T fields -e frame.comment -e frame.interface_name "
                          "-e frame.time_epoch -e frame.len 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  ASSERT_EQ(::pclose(p), 0) << out;
  EXPECT_EQ(out,
            "rule_drop: vboxin#3\teth0\t1700000000.123456789\t60\n"
            "chain_policy\ttap0\t1700000000.123456790\t61\n"
            "\teth0\t1800000001.000000001\t1514\n");
}

TEST(PcapngWriter, SnaplenCutsFramesButKeepsOriginalLength) {
  const std::string path = test::temp_path("snaplen.pcapng");
  auto w = create_ok(path);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->add_interface("tap1", 64), 0u);
  const auto f = frame_bytes(101, 9);
  EXPECT_TRUE(w->write(0, 1, f, "x"));
  ASSERT_TRUE(w->close());
  const Parsed p = parse_pcapng(test::read_all(path));
  ASSERT_EQ(p.epbs.size(), 1u);
  EXPECT_EQ(p.idbs.at(0).snaplen, 64u);
  EXPECT_EQ(p.epbs[0].caplen, 64u);
  EXPECT_EQ(p.epbs[0].origlen, 101u);
  EXPECT_EQ(p.epbs[0].data, std::vector<uint8_t>(f.begin(), f.begin() + 64));
}

TEST(PcapngWriter, UnknownInterfaceIsRejectedWithoutWriting) {
  const std::string path = test::temp_path("noiface.pcapng");
  auto w = create_ok(path);
  ASSERT_TRUE(w);
  const uint64_t before = w->bytes_written();
  EXPECT_FALSE(w->write(0, 1, frame_bytes(60, 1), "no interface yet"));
  EXPECT_EQ(w->add_interface("eth0"), 0u);
  EXPECT_FALSE(w->write(1, 1, frame_bytes(60, 1), ""));
  EXPECT_TRUE(w->write(0, 1, frame_bytes(60, 1), ""));
  EXPECT_FALSE(w->failed());
  ASSERT_TRUE(w->close());
  const Parsed p = parse_pcapng(test::read_all(path));
  EXPECT_EQ(p.epbs.size(), 1u);
  EXPECT_GT(before, 0u);
}

TEST(PcapngWriter, InterfaceMayBeAddedBetweenPackets) {
  const std::string path = test::temp_path("lateiface.pcapng");
  auto w = create_ok(path);
  ASSERT_TRUE(w);
  w->add_interface("eth0");
  EXPECT_TRUE(w->write(0, 10, frame_bytes(60, 1), "a"));
  EXPECT_EQ(w->add_interface("tap7"), 1u);
  EXPECT_TRUE(w->write(1, 20, frame_bytes(60, 2), "b"));
  ASSERT_TRUE(w->close());
  const Parsed p = parse_pcapng(test::read_all(path));
  ASSERT_EQ(p.idbs.size(), 2u);
  EXPECT_EQ(p.idbs[1].name, "tap7");
  ASSERT_EQ(p.epbs.size(), 2u);
  EXPECT_EQ(p.epbs[1].iface, 1u);
}

TEST(PcapngWriter, OverlongCommentCutAtUtf8Boundary) {
  const std::string path = test::temp_path("longcomment.pcapng");
  auto w = create_ok(path);
  ASSERT_TRUE(w);
  w->add_interface("eth0");
  std::string comment = "x";  // odd start so the 2-byte 'é' straddles the 65535 limit
  while (comment.size() < 70000) comment += "\xc3\xa9";
  EXPECT_TRUE(w->write(0, 1, frame_bytes(60, 1), comment));
  ASSERT_TRUE(w->close());
  const Parsed p = parse_pcapng(test::read_all(path));
  ASSERT_EQ(p.epbs.size(), 1u);
  ASSERT_EQ(p.epbs[0].comments.size(), 1u);
  EXPECT_EQ(p.epbs[0].comments[0], comment.substr(0, 65535));  // 1 + 2*32767: ends whole
  std::string even = "yy";  // now the limit falls inside a character: cut one byte earlier
  while (even.size() < 70000) even += "\xc3\xa9";
  auto w2 = create_ok(path);
  ASSERT_TRUE(w2);
  w2->add_interface("eth0");
  EXPECT_TRUE(w2->write(0, 1, frame_bytes(60, 1), even));
  ASSERT_TRUE(w2->close());
  const Parsed p2 = parse_pcapng(test::read_all(path));
  ASSERT_EQ(p2.epbs.size(), 1u);
  EXPECT_EQ(p2.epbs[0].comments.at(0), even.substr(0, 65534));
}

TEST(PcapngWriter, BytesWrittenTracksFileSizeAfterFlush) {
  const std::string path = test::temp_path("size.pcapng");
  auto w = create_ok(path);
  ASSERT_TRUE(w);
  w->add_interface("eth0");
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(w->write(0, uint64_t(i), frame_bytes(60 + i, 1), "c"));
  ASSERT_TRUE(w->flush());
  EXPECT_EQ(w->bytes_written(), test::read_all(path).size());
  ASSERT_TRUE(w->close());
  EXPECT_TRUE(w->close());  // idempotent
  EXPECT_FALSE(w->write(0, 1, frame_bytes(60, 1), ""));  // closed
}

TEST(PcapngWriter, CreateInMissingDirectoryIsAnError) {
  const std::string path = "/nonexistent-tapwall-dir/x.pcapng";
  auto w = PcapngWriter::create(path);
  ASSERT_TRUE(std::holds_alternative<std::string>(w));
  EXPECT_NE(std::get<std::string>(w).find(path), std::string::npos);
}

}  // namespace
}  // namespace tapwall
