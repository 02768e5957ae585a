// kf_app_workload: the command line of the application workload (see app_workload.h).
//
//   kf_app_workload run --endpoint-file F --record DIR [--seconds N] [--rate OPS_PER_THREAD]
//                       [--give-up-seconds N]
//       Runs the seven threads until --seconds (default 300) pass or SIGTERM/SIGINT, writes
//       DIR/<thread>.log (DIR is created), prints one line per thread and a summary line:
//       "app_workload answered=.. seconds=.. ops_per_s=.. longest_wait_ms=..
//       longest_wait_start_ms=.. longest_call_ms=.. reconnects=.. uncertain=.. errors=..".
//       longest_wait_ms is the longest time from the start of a call until its thread got an
//       answer again (a reconnect included): the pause as the application felt it;
//       longest_wait_start_ms is when it began (Unix ms, to place it among the journal's
//       events). longest_call_ms is the longest single call.
//   kf_app_workload check --endpoint-file F --record DIR [--ttl-margin-ms N]
//       Checks the server the file names against the records; prints each check and
//       "app_check passed=.. failed=..". Exit 0 when every check passes, 1 otherwise.
// Exit code 2 on usage or runtime errors.
#include "app_workload.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace kf::app {

std::string ReadEndpointFile(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  size_t begin = line.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  size_t end = line.find_last_not_of(" \t\r");
  return line.substr(begin, end - begin + 1);
}

}  // namespace kf::app

namespace {

int Usage(const char* problem) {
  std::fprintf(stderr,
               "kf_app_workload: %s\n"
               "usage: kf_app_workload run --endpoint-file F --record DIR [--seconds N] "
               "[--rate OPS_PER_THREAD] [--give-up-seconds N]\n"
               "       kf_app_workload check --endpoint-file F --record DIR [--ttl-margin-ms N]\n",
               problem);
  return 2;
}

bool PositiveNumber(const std::string& text, int* out) {
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v <= 0 || v > 1000000) return false;
  *out = static_cast<int>(v);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage("a mode is needed: run or check");
  std::string mode = argv[1];
  if (mode != "run" && mode != "check") return Usage(("unknown mode " + mode).c_str());
  kf::app::RunOptions run;
  kf::app::CheckOptions check;
  for (int i = 2; i < argc; i += 2) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return Usage((flag + " needs a value").c_str());
    std::string value = argv[i + 1];
    int number = 0;
    if (flag == "--endpoint-file") {
      run.endpoint_file = check.endpoint_file = value;
    } else if (flag == "--record") {
      run.record_dir = check.record_dir = value;
    } else if (mode == "run" && flag == "--seconds" && PositiveNumber(value, &number)) {
      run.seconds = number;
    } else if (mode == "run" && flag == "--rate" && PositiveNumber(value, &number)) {
      run.rate = number;
    } else if (mode == "run" && flag == "--give-up-seconds" && PositiveNumber(value, &number)) {
      run.give_up_seconds = number;
    } else if (mode == "check" && flag == "--ttl-margin-ms" && PositiveNumber(value, &number)) {
      check.ttl_margin_ms = number;
    } else {
      return Usage(("unknown option or bad value: " + flag + " " + value).c_str());
    }
  }
  if (run.endpoint_file.empty() || run.record_dir.empty()) {
    return Usage("--endpoint-file and --record are required");
  }
  if (mode == "run") {
    ::mkdir(run.record_dir.c_str(), 0755);
    struct stat st {};
    if (::stat(run.record_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      std::fprintf(stderr, "kf_app_workload run: cannot create the record directory %s\n",
                   run.record_dir.c_str());
      return 2;
    }
    return kf::app::Run(run);
  }
  return kf::app::Check(check);
}
