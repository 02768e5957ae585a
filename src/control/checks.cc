// Server-less checks shared by doctor, plan and PREFLIGHT (see checks.h).
#include "control/checks.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <vector>

namespace kf::control {
namespace {

namespace fs = std::filesystem;

ProgramLookup Probe(const fs::path& path) {
  ProgramLookup lookup;
  lookup.path = path.lexically_normal().string();
  std::error_code ec;
  lookup.found = fs::is_regular_file(path, ec);
  lookup.executable = lookup.found && ::access(lookup.path.c_str(), X_OK) == 0;
  return lookup;
}

bool IsAssignment(std::string_view word) {
  size_t eq = word.find('=');
  if (eq == std::string_view::npos || eq == 0) return false;
  if (!(std::isalpha(static_cast<unsigned char>(word[0])) || word[0] == '_')) return false;
  return std::all_of(word.begin(), word.begin() + static_cast<std::ptrdiff_t>(eq), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// Reads one shell word starting at `pos` (simple quotes only); nullopt when it holds
// expansions or syntax keyferry does not follow.
std::optional<std::string> ReadWord(std::string_view s, size_t* pos) {
  std::string word;
  size_t i = *pos;
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '<' ||
        c == '>' || c == ')') {
      break;
    }
    if (c == '\'' || c == '"') {
      size_t close = s.find(c, i + 1);
      if (close == std::string_view::npos) return std::nullopt;
      std::string_view inside = s.substr(i + 1, close - i - 1);
      if (c == '"' && (inside.find_first_of("$`\\") != std::string_view::npos)) return std::nullopt;
      word += inside;
      i = close + 1;
      continue;
    }
    if (c == '$' || c == '`' || c == '\\' || c == '*' || c == '?' || c == '[' || c == '(' ||
        c == '{' || c == '}' || c == '~' || c == '!') {
      return std::nullopt;
    }
    word += c;
    ++i;
  }
  *pos = i;
  return word;
}

std::vector<int> VersionParts(std::string_view v) {
  std::vector<int> parts;
  while (!v.empty()) {
    size_t dot = v.find('.');
    std::string_view part = v.substr(0, dot);
    int n = -1;
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), n);
    if (ec != std::errc() || p != part.data() + part.size()) return {};
    parts.push_back(n);
    if (dot == std::string_view::npos) break;
    v = v.substr(dot + 1);
  }
  return parts;
}

}  // namespace

ProgramLookup FindProgram(const std::string& name, const std::string& base_dir) {
  if (name.find('/') != std::string::npos) {
    fs::path path(name);
    if (path.is_relative()) path = fs::path(base_dir) / path;
    return Probe(path);
  }
  const char* env = std::getenv("PATH");
  std::string_view dirs = env != nullptr ? env : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    size_t colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    ProgramLookup lookup = Probe(fs::path(dir.empty() ? "." : std::string(dir)) / name);
    if (lookup.executable) return lookup;
    if (colon == std::string_view::npos) break;
    dirs = dirs.substr(colon + 1);
  }
  ProgramLookup missing;
  missing.path = name;
  return missing;
}

std::optional<std::string> HookProgram(std::string_view hook) {
  size_t pos = 0;
  while (true) {
    while (pos < hook.size() && (hook[pos] == ' ' || hook[pos] == '\t' || hook[pos] == '\n')) {
      ++pos;
    }
    if (pos >= hook.size()) return std::nullopt;
    auto word = ReadWord(hook, &pos);
    if (!word || word->empty()) return std::nullopt;
    if (IsAssignment(*word)) continue;  // FOO=bar ./switch.sh
    static constexpr std::string_view kKeywords[] = {
        "if",   "then", "else", "elif",     "fi",   "for",     "while", "until", "do",  "done",
        "case", "esac", "in",   "function", "exec", "command", "eval",  "nohup", "env", "time"};
    if (std::find(std::begin(kKeywords), std::end(kKeywords), *word) != std::end(kKeywords)) {
      return std::nullopt;  // the program is somewhere further on, or decided at run time
    }
    return word;
  }
}

bool IsShellBuiltin(std::string_view word) {
  static constexpr std::string_view kBuiltins[] = {
      ":",    ".",        "[",      "alias",   "break",   "cd",    "continue", "echo",
      "exit", "export",   "false",  "getopts", "hash",    "kill",  "printf",   "pwd",
      "read", "readonly", "return", "set",     "shift",   "test",  "times",    "trap",
      "true", "type",     "ulimit", "umask",   "unalias", "unset", "wait"};
  return std::find(std::begin(kBuiltins), std::end(kBuiltins), word) != std::end(kBuiltins);
}

std::optional<ProgramVersion> ParseVersionOutput(std::string_view output) {
  // "Valkey server v=8.0.1 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=..."
  size_t space = output.find(' ');
  if (space == std::string_view::npos || output.substr(space + 1, 7) != "server ") {
    return std::nullopt;
  }
  size_t v = output.find(" v=");
  if (v == std::string_view::npos) return std::nullopt;
  size_t end = output.find_first_of(" \n", v + 3);
  ProgramVersion pv;
  for (char c : output.substr(0, space)) {
    pv.engine += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  pv.version = std::string(output.substr(v + 3, end == std::string_view::npos ? end : end - v - 3));
  if (pv.version.empty() || VersionParts(pv.version).empty()) return std::nullopt;
  return pv;
}

bool VersionMatches(std::string_view wanted, std::string_view actual) {
  if (wanted.empty()) return true;
  std::vector<int> w = VersionParts(wanted);
  std::vector<int> a = VersionParts(actual);
  if (w.empty() || a.size() < w.size()) return false;
  return std::equal(w.begin(), w.end(), a.begin());
}

std::string EngineMismatch(const Spec& spec, const std::string& what, const std::string& engine,
                           const std::string& version) {
  const std::string shown_version = version.empty() ? "(version unknown)" : version;
  if (engine != spec.target.engine) {
    std::string name = engine.empty() ? "an unknown server" : engine;
    if (!name.empty())
      name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
    return what + " is " + name + " " + shown_version + ", not " +
           (spec.target.engine == "valkey" ? "Valkey" : spec.target.engine) +
           ": keyferry migrates to Valkey only";
  }
  if (!VersionMatches(spec.target.version, version)) {
    return what + " is Valkey " + shown_version + ", but target.version asks for " +
           spec.target.version;
  }
  return "";
}

}  // namespace kf::control
