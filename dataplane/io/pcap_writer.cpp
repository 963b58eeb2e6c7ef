// PcapWriter: classic libpcap format with nanosecond timestamps, for tools that record
// captures (the kernel-oracle recorder, synthetic traffic generators).
// Invariants: global header written at create(); every record is [ts_sec, ts_nsec, incl_len,
// orig_len] + incl_len bytes, incl_len <= snaplen; bytes_ counts bytes handed to stdio.
// Thread-safety: none; one owner.
#include <cerrno>
#include <cstring>

#include "tapwall/capture_file.hpp"

namespace tapwall {

namespace {
constexpr uint32_t kMagicNanoseconds = 0xa1b23c4d;
constexpr uint32_t kLinktypeEthernet = 1;
constexpr std::size_t kStdioBuffer = 1 << 20;

struct [[gnu::packed]] FileHeader {
  uint32_t magic;
  uint16_t version_major, version_minor;
  int32_t thiszone;
  uint32_t sigfigs, snaplen, linktype;
};
static_assert(sizeof(FileHeader) == 24);

struct [[gnu::packed]] RecordHeader {
  uint32_t ts_sec, ts_nsec, incl_len, orig_len;
};
static_assert(sizeof(RecordHeader) == 16);
}  // namespace

std::variant<std::unique_ptr<PcapWriter>, std::string> PcapWriter::create(const std::string& path,
                                                                         uint32_t snaplen) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return path + ": " + std::strerror(errno);
  std::setvbuf(f, nullptr, _IOFBF, kStdioBuffer);
  std::unique_ptr<PcapWriter> w(new PcapWriter(f, snaplen));
  const FileHeader h{kMagicNanoseconds, 2, 4, 0, 0, snaplen, kLinktypeEthernet};
  if (!w->put(&h, sizeof(h))) return path + ": write failed: " + std::strerror(errno);
  return w;
}

PcapWriter::~PcapWriter() { close(); }

bool PcapWriter::put(const void* p, std::size_t n) {
  if (failed_ || file_ == nullptr) return false;
  if (n == 0) return true;
  if (fwrite_unlocked(p, 1, n, file_) != n) {
    failed_ = true;
    return false;
  }
  bytes_ += n;
  return true;
}

bool PcapWriter::write(uint64_t ts_ns, std::span<const uint8_t> frame, uint32_t orig_len) {
  const uint32_t cap = uint32_t(frame.size() < snaplen_ ? frame.size() : snaplen_);
  const RecordHeader r{uint32_t(ts_ns / 1000000000ull), uint32_t(ts_ns % 1000000000ull), cap,
                       orig_len != 0 ? orig_len : uint32_t(frame.size())};
  put(&r, sizeof(r));
  return put(frame.data(), cap);
}

bool PcapWriter::flush() {
  if (failed_ || file_ == nullptr) return false;
  if (std::fflush(file_) != 0) failed_ = true;
  return !failed_;
}

bool PcapWriter::close() {
  if (file_ == nullptr) return !failed_;
  if (std::fclose(file_) != 0) failed_ = true;
  file_ = nullptr;
  return !failed_;
}

}  // namespace tapwall
