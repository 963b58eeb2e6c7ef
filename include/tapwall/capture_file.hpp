// Capture files: read pcap/pcapng (via libpcap), write pcapng with per-packet comments and
// plain nanosecond pcap (written by tapwall itself).
// Purpose: offline replay and benchmarking read captures; the drop recorder writes pcapng
// whose comments say why each frame was dropped, one interface per bridge port.
// Invariants:
//  - CaptureReader accepts Ethernet (DLT_EN10MB) only; timestamps are nanoseconds whatever
//    the file's resolution; a CapturedFrame's bytes stay valid until the next next() call.
//  - Writers emit host byte order (pcapng: the SHB byte-order magic says so; pcap: the
//    nanosecond magic 0xa1b23c4d in host order), 32-bit aligned blocks, and count every byte
//    handed to the file in bytes_written() (so size-based rotation can be decided early).
//  - Errors are returned as values; a writer that failed once stays failed (write()==false).
// Thread-safety: none; each object has one owner. Writers do no allocation per packet.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

struct pcap;  // libpcap's pcap_t, kept out of this header

namespace tapwall {

struct CapturedFrame {
  uint64_t ts_ns = 0;
  uint32_t orig_len = 0;              // length on the wire; bytes.size() may be smaller
  std::span<const uint8_t> bytes;     // valid until the next CaptureReader::next()
};

class CaptureReader {
 public:
  // Opens a pcap or pcapng file. Error: a message naming the file (and the link type when the
  // file is not Ethernet).
  static std::variant<std::unique_ptr<CaptureReader>, std::string> open(const std::string& path);
  ~CaptureReader();
  CaptureReader(const CaptureReader&) = delete;
  CaptureReader& operator=(const CaptureReader&) = delete;

  // Next frame in file order; false at the end of the file or on a read error (then error()
  // is non-empty, e.g. a truncated last record).
  bool next(CapturedFrame& out);
  const std::string& error() const { return error_; }

 private:
  CaptureReader(pcap* p, std::string path) : pcap_(p), path_(std::move(path)) {}
  pcap* pcap_;
  std::string path_;
  std::string error_;
};

class PcapngWriter {
 public:
  static constexpr uint32_t kDefaultSnaplen = 262144;

  // Creates (truncates) the file and writes the Section Header Block.
  static std::variant<std::unique_ptr<PcapngWriter>, std::string> create(const std::string& path);
  ~PcapngWriter();  // closes
  PcapngWriter(const PcapngWriter&) = delete;
  PcapngWriter& operator=(const PcapngWriter&) = delete;

  // Writes an Interface Description Block (Ethernet, if_name, if_tsresol=9) and returns its
  // interface id (0, 1, … in call order). Allowed before or between packets.
  uint32_t add_interface(const std::string& name, uint32_t snaplen = kDefaultSnaplen);
  // Writes an Enhanced Packet Block; frames longer than the interface's snaplen are cut
  // (original length kept). An empty comment writes no option. Comments longer than an
  // option can hold are cut at a UTF-8 character boundary. False: unknown iface, or I/O error.
  bool write(uint32_t iface, uint64_t ts_ns, std::span<const uint8_t> frame,
             std::string_view comment);
  bool flush();
  bool close();  // idempotent; false when any write, the flush or the close failed
  uint64_t bytes_written() const { return bytes_; }
  std::size_t interface_count() const { return snaplens_.size(); }
  bool failed() const { return failed_; }

 private:
  explicit PcapngWriter(std::FILE* f) : file_(f) {}
  bool put(const void* p, std::size_t n);
  std::FILE* file_;
  std::vector<uint32_t> snaplens_;
  uint64_t bytes_ = 0;
  bool failed_ = false;
};

// Classic pcap, nanosecond timestamps (magic 0xa1b23c4d), Ethernet link type.
class PcapWriter {
 public:
  static std::variant<std::unique_ptr<PcapWriter>, std::string> create(
      const std::string& path, uint32_t snaplen = PcapngWriter::kDefaultSnaplen);
  ~PcapWriter();  // closes
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  // orig_len 0 means frame.size(); frames longer than snaplen are cut.
  bool write(uint64_t ts_ns, std::span<const uint8_t> frame, uint32_t orig_len = 0);
  bool flush();
  bool close();
  uint64_t bytes_written() const { return bytes_; }

 private:
  PcapWriter(std::FILE* f, uint32_t snaplen) : file_(f), snaplen_(snaplen) {}
  bool put(const void* p, std::size_t n);
  std::FILE* file_;
  uint32_t snaplen_;
  uint64_t bytes_ = 0;
  bool failed_ = false;
};

}  // namespace tapwall
