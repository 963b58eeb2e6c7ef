// CaptureReader: pcap/pcapng input through libpcap, timestamps asked for in nanoseconds so
// microsecond files and nanosecond files read alike.
// Invariants: only DLT_EN10MB files are opened; a frame's bytes point into libpcap's buffer
// and are valid until the next next().
// Thread-safety: none; one owner.
#include <pcap/pcap.h>

#include "tapwall/capture_file.hpp"

namespace tapwall {

std::variant<std::unique_ptr<CaptureReader>, std::string> CaptureReader::open(
    const std::string& path) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO,
                                                      errbuf);
  if (p == nullptr) return path + ": " + errbuf;
  const int dlt = pcap_datalink(p);
  if (dlt != DLT_EN10MB) {
    const char* name = pcap_datalink_val_to_name(dlt);
    std::string msg = path + ": link type " + (name ? name : "unknown") + " (DLT " +
                      std::to_string(dlt) + ") is not Ethernet (EN10MB)";
    pcap_close(p);
    return msg;
  }
  return std::unique_ptr<CaptureReader>(new CaptureReader(p, path));
}

CaptureReader::~CaptureReader() { pcap_close(pcap_); }

bool CaptureReader::next(CapturedFrame& out) {
  pcap_pkthdr* hdr = nullptr;
  const u_char* data = nullptr;
  const int rc = pcap_next_ex(pcap_, &hdr, &data);
  if (rc == 1) {
    // With PCAP_TSTAMP_PRECISION_NANO, tv_usec carries nanoseconds.
    out.ts_ns = uint64_t(hdr->ts.tv_sec) * 1000000000ull + uint64_t(hdr->ts.tv_usec);
    out.orig_len = hdr->len;
    out.bytes = std::span<const uint8_t>(data, hdr->caplen);
    return true;
  }
  if (rc == PCAP_ERROR) error_ = path_ + ": " + pcap_geterr(pcap_);
  return false;
}

}  // namespace tapwall
