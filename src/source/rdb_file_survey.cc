// SurveyRdbFile: one parse-only pass over an RDB backup (rdb_file_survey.h).
#include "source/rdb_file_survey.h"

#include <vector>

#include "rdb/reader.h"

namespace kf::source {
namespace {

constexpr size_t kReadChunk = size_t{1} << 20;

// Counts what the reader announces; asks for no value.
class SurveySink : public rdb::RdbSink {
 public:
  explicit SurveySink(RdbFileSurvey* survey) : survey_(survey) {}
  void OnHeader(const rdb::RdbFormat& format) override { survey_->rdb_version = format.version; }
  void OnAux(ByteView key, ByteView value) override {
    const std::string name(key.begin(), key.end());
    const std::string text(value.begin(), value.end());
    if (name == "valkey-ver") valkey_ = text;  // Valkey writes redis-ver too (7.2.4)
    if (name == "redis-ver") redis_ = text;
  }
  void OnFunction(const rdb::FunctionLibrary& /*library*/) override { ++survey_->functions; }
  rdb::AccessLevel OnKey(const rdb::KeyInfo& key) override {
    ++survey_->keys;
    ++survey_->keys_by_db[key.db];
    if (key.expire_ms >= 0) ++survey_->keys_with_expiry;
    if (key.kind == rdb::TypeKind::kHashMetadata || key.kind == rdb::TypeKind::kHashListpackEx) {
      ++survey_->field_ttl_hashes;
    }
    return rdb::AccessLevel::kSkip;
  }
  void OnEof(const rdb::EofInfo& eof) override { survey_->checksum_checked = eof.checksum_checked; }

  std::string SavedBy() const {
    if (!valkey_.empty()) return "Valkey " + valkey_;
    if (!redis_.empty()) return "Redis " + redis_;
    return "";
  }

 private:
  RdbFileSurvey* survey_;
  std::string valkey_;
  std::string redis_;
};

}  // namespace

Result<RdbFileSurvey> SurveyRdbFile(RdbFileInput& input) {
  RdbFileSurvey survey;
  SurveySink sink(&survey);
  rdb::RdbReader reader(&sink, rdb::ReaderOptions{});
  std::vector<uint8_t> buf(kReadChunk);
  for (;;) {
    auto n = input.Read(buf);
    if (!n) return MakeError(n.error());
    if (*n == 0) break;
    auto fed = reader.Feed(ByteView(buf.data(), *n));
    survey.bytes += *n;
    if (!fed) {
      return MakeError(fed.error().code,
                       input.name() + " is not a readable RDB file: " + fed.error().ToString());
    }
  }
  if (auto finished = reader.Finish(); !finished) {
    return MakeError(
        finished.error().code,
        input.name() + " ended before its end-of-file record after " +
            std::to_string(survey.bytes) +
            " bytes (a truncated or incomplete copy?): " + finished.error().ToString());
  }
  survey.saved_by = sink.SavedBy();
  return survey;
}

Result<RdbFileSurvey> SurveyRdbFile(const std::string& path) {
  auto input = RdbFileInput::Open(path);
  if (!input) return MakeError(input.error());
  return SurveyRdbFile(*input);
}

}  // namespace kf::source
