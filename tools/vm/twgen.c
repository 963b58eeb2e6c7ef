/* twgen SEED SIZE: writes SIZE bytes of deterministic pseudo-random data to stdout.
 *
 * The VM test's guest uses it to make the data it sends (busybox has no seeded generator
 * fast enough under TCG). The stream is splitmix64 seeded with SEED, each 64-bit output
 * written little-endian, so the far end can regenerate the exact bytes and check them
 * independently of the sender's own checksum (tests/vm/test_vm_guest.py: splitmix_bytes).
 * Built statically by tools/vm/build-guest.sh into the guest's initramfs. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int write_all(const unsigned char* p, size_t n) {
  while (n) {
    ssize_t w = write(1, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: twgen SEED SIZE\n");
    return 2;
  }
  uint64_t s = strtoull(argv[1], NULL, 0);
  unsigned long long n = strtoull(argv[2], NULL, 0);
  static unsigned char buf[65536];
  size_t fill = 0;
  while (n) {
    s += 0x9e3779b97f4a7c15ULL;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    for (int i = 0; i < 8 && n; ++i, --n) {
      buf[fill++] = (unsigned char)(z >> (8 * i));
      if (fill == sizeof buf) {
        if (write_all(buf, fill)) return 1;
        fill = 0;
      }
    }
  }
  return write_all(buf, fill) ? 1 : 0;
}
