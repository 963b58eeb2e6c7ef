// PcapngWriter: pcapng written directly (libpcap cannot write packet comments).
// Layout (pcapng spec, draft-ietf-opsawg-pcapng): one Section Header Block, then Interface
// Description Blocks and Enhanced Packet Blocks in any order, each IDB before the packets
// that name it. Every block is [type, total_length, body…, total_length], 32-bit aligned;
// options are [code u16, length u16, value padded to 4], closed by opt_endofopt.
// Invariants: blocks are written whole or the writer is marked failed; bytes_ counts every
// byte handed to stdio. No allocation per packet (stdio's buffer is set up at create()).
// Thread-safety: none; one owner.
#include <cerrno>
#include <cstring>

#include "tapwall/capture_file.hpp"

namespace tapwall {

namespace {

constexpr uint32_t kShbType = 0x0A0D0D0A;
constexpr uint32_t kIdbType = 0x00000001;
constexpr uint32_t kEpbType = 0x00000006;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr uint16_t kOptEnd = 0;
constexpr uint16_t kOptComment = 1;
constexpr uint16_t kShbUserAppl = 4;
constexpr uint16_t kIfName = 2;
constexpr uint16_t kIfTsresol = 9;
constexpr uint16_t kLinktypeEthernet = 1;
constexpr uint8_t kTsresolNanoseconds = 9;  // 10^-9 s
constexpr std::size_t kMaxOptionValue = 0xffff;
constexpr std::size_t kStdioBuffer = 1 << 20;
constexpr char kUserAppl[] = "tapwall";

constexpr std::size_t pad4(std::size_t n) { return (n + 3) & ~std::size_t{3}; }
constexpr std::size_t option_size(std::size_t value_len) { return 4 + pad4(value_len); }

// Cuts s to at most max bytes without splitting a UTF-8 sequence (Wireshark shows options
// as UTF-8; a split character would make the comment invalid).
std::string_view utf8_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<uint8_t>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

}  // namespace

std::variant<std::unique_ptr<PcapngWriter>, std::string> PcapngWriter::create(
    const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return path + ": " + std::strerror(errno);
  std::setvbuf(f, nullptr, _IOFBF, kStdioBuffer);
  std::unique_ptr<PcapngWriter> w(new PcapngWriter(f));

  const std::size_t appl_len = sizeof(kUserAppl) - 1;
  const uint32_t total = uint32_t(24 + option_size(appl_len) + 4 + 4);
  const uint16_t major = 1, minor = 0;
  const uint64_t section_len = ~uint64_t{0};  // unknown: we do not seek back to fill it in
  w->put(&kShbType, 4);
  w->put(&total, 4);
  w->put(&kByteOrderMagic, 4);
  w->put(&major, 2);
  w->put(&minor, 2);
  w->put(&section_len, 8);
  const uint16_t appl_hdr[2] = {kShbUserAppl, uint16_t(appl_len)};
  w->put(appl_hdr, 4);
  w->put(kUserAppl, appl_len);
  static constexpr uint8_t kZeros[4] = {};
  w->put(kZeros, pad4(appl_len) - appl_len);
  const uint16_t end[2] = {kOptEnd, 0};
  w->put(end, 4);
  w->put(&total, 4);
  if (w->failed_) return path + ": write failed: " + std::strerror(errno);
  return w;
}

PcapngWriter::~PcapngWriter() { close(); }

bool PcapngWriter::put(const void* p, std::size_t n) {
  if (failed_ || file_ == nullptr) return false;
  if (n == 0) return true;
  // Single owner: the unlocked variant avoids stdio's per-call lock on the packet path.
  if (fwrite_unlocked(p, 1, n, file_) != n) {
    failed_ = true;
    return false;
  }
  bytes_ += n;
  return true;
}

uint32_t PcapngWriter::add_interface(const std::string& name, uint32_t snaplen) {
  const std::string_view nm = utf8_prefix(name, kMaxOptionValue);
  const uint32_t total =
      uint32_t(8 + 8 + option_size(nm.size()) + option_size(1) + 4 + 4);
  const uint16_t link[2] = {kLinktypeEthernet, 0};
  static constexpr uint8_t kZeros[4] = {};
  put(&kIdbType, 4);
  put(&total, 4);
  put(link, 4);
  put(&snaplen, 4);
  const uint16_t name_hdr[2] = {kIfName, uint16_t(nm.size())};
  put(name_hdr, 4);
  put(nm.data(), nm.size());
  put(kZeros, pad4(nm.size()) - nm.size());
  const uint16_t res_hdr[2] = {kIfTsresol, 1};
  put(res_hdr, 4);
  const uint8_t res[4] = {kTsresolNanoseconds, 0, 0, 0};
  put(res, 4);
  const uint16_t end[2] = {kOptEnd, 0};
  put(end, 4);
  put(&total, 4);
  snaplens_.push_back(snaplen);
  return uint32_t(snaplens_.size() - 1);
}

bool PcapngWriter::write(uint32_t iface, uint64_t ts_ns, std::span<const uint8_t> frame,
                         std::string_view comment) {
  if (failed_ || file_ == nullptr || iface >= snaplens_.size()) return false;
  const std::size_t cap = frame.size() < snaplens_[iface] ? frame.size() : snaplens_[iface];
  const std::string_view c = utf8_prefix(comment, kMaxOptionValue);
  const std::size_t opts = c.empty() ? 0 : option_size(c.size()) + 4;
  const uint32_t total = uint32_t(8 + 20 + pad4(cap) + opts + 4);
  const uint32_t body[5] = {iface, uint32_t(ts_ns >> 32), uint32_t(ts_ns), uint32_t(cap),
                            uint32_t(frame.size())};
  static constexpr uint8_t kZeros[4] = {};
  put(&kEpbType, 4);
  put(&total, 4);
  put(body, sizeof(body));
  put(frame.data(), cap);
  put(kZeros, pad4(cap) - cap);
  if (!c.empty()) {
    const uint16_t hdr[2] = {kOptComment, uint16_t(c.size())};
    put(hdr, 4);
    put(c.data(), c.size());
    put(kZeros, pad4(c.size()) - c.size());
    const uint16_t end[2] = {kOptEnd, 0};
    put(end, 4);
  }
  return put(&total, 4);
}

bool PcapngWriter::flush() {
  if (failed_ || file_ == nullptr) return false;
  if (std::fflush(file_) != 0) failed_ = true;
  return !failed_;
}

bool PcapngWriter::close() {
  if (file_ == nullptr) return !failed_;
  if (std::fclose(file_) != 0) failed_ = true;  // fclose flushes
  file_ = nullptr;
  return !failed_;
}

}  // namespace tapwall
