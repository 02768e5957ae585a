// kf_dataset_diff SOURCE_URI TARGET_URI: compares two live servers canonically (the
// integration tests' comparison: SCAN + DUMP + PEXPIRETIME, values decoded by keyferry's
// RDB reader) and prints every difference. Exit 0 when equal, 1 when not, 2 on errors.
// Used by `make demo` until `keyferry verify` exists.
#include <cstdio>

#include "harness/dataset.h"
#include "net/uri.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: kf_dataset_diff SOURCE_URI TARGET_URI\n");
    return 2;
  }
  auto source = kf::net::Uri::Parse(argv[1]);
  auto target = kf::net::Uri::Parse(argv[2]);
  if (!source || !target) {
    std::fprintf(stderr, "kf_dataset_diff: bad URI\n");
    return 2;
  }
  auto diffs = kf::test::CanonicalDiff(*source, *target, 50);
  for (const auto& d : diffs) std::printf("%s\n", d.c_str());
  return diffs.empty() ? 0 : 1;
}
