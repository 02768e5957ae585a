// Logging set-up: a stderr sink with a compact time-stamped pattern that writes each line
// through PrintStderrLine, so a log line printed while a progress bar is shown clears the
// bar, appears whole on its own line, and the bar is drawn again under it (live_line.h).
#include "common/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>
#include <string>

#include "common/live_line.h"

namespace kf {
namespace {

// Colours the level name (the %^...%$ range of the pattern) when stderr is a terminal, as
// spdlog's own colour sink did.
class LiveLineSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  LiveLineSink() : colour_(IsTerminal(2)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    std::string line(formatted.data(), formatted.size());
    if (colour_ && msg.color_range_end > msg.color_range_start &&
        msg.color_range_end <= line.size()) {
      line.insert(msg.color_range_end, "\033[0m");
      line.insert(msg.color_range_start, Colour(msg.level));
    }
    PrintStderrLine(line);
  }
  void flush_() override {}

 private:
  static const char* Colour(spdlog::level::level_enum level) {
    switch (level) {
      case spdlog::level::trace:
        return "\033[37m";
      case spdlog::level::debug:
        return "\033[36m";
      case spdlog::level::info:
        return "\033[32m";
      case spdlog::level::warn:
        return "\033[33m\033[1m";
      case spdlog::level::err:
        return "\033[31m\033[1m";
      case spdlog::level::critical:
        return "\033[1m\033[41m";
      default:
        return "";
    }
  }
  bool colour_;
};

}  // namespace

void SetUpLogging(std::string_view level) {
  // Idempotent: a second call (tests run the CLI several times in one process) reuses it.
  auto logger = spdlog::get("keyferry");
  if (!logger) {
    logger = std::make_shared<spdlog::logger>("keyferry", std::make_shared<LiveLineSink>());
    spdlog::register_logger(logger);
  }
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  logger->set_level(spdlog::level::from_str(std::string(level)));
  spdlog::set_default_logger(logger);
}

}  // namespace kf
