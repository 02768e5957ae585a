// The observe server's flags: see listen_flags.h.
#include "cli/listen_flags.h"

#include <cstdlib>
#include <system_error>

namespace kf::cli {

void AddListenFlags(CLI::App* sub, ListenFlags* flags, const std::string& flag_name,
                    const std::string& description) {
  sub->add_option(flag_name, flags->listen, description);
  sub->add_option("--listen-token-env", flags->token_env,
                  "environment variable holding the token every request must carry "
                  "(Authorization: Bearer TOKEN or ?token=TOKEN); required for a non-loopback "
                  "address");
}

Result<std::optional<observe::ListenOptions>> ResolveListen(const ListenFlags& flags,
                                                            const control::ObserveSpec* spec) {
  observe::ListenOptions options;
  options.address = !flags.listen.empty() ? flags.listen : (spec ? spec->listen : "");
  if (options.address.empty()) return std::optional<observe::ListenOptions>();
  std::string env = flags.token_env;
  std::string origin = "--listen-token-env";
  if (env.empty() && spec && !spec->token_env.empty()) {
    env = spec->token_env;
    origin = "observe.token_env";
  }
  options.token_hint =
      spec ? "--listen-token-env NAME or observe.token_env in the spec" : "--listen-token-env NAME";
  if (!env.empty()) {
    const char* value = std::getenv(env.c_str());
    if (value == nullptr || *value == '\0') {
      return MakeError(std::make_error_code(std::errc::invalid_argument),
                       origin + " names the environment variable " + env +
                           ", which is not set (or empty); export " + env +
                           " with the token before starting keyferry");
    }
    options.token = value;
  }
  if (auto ok = observe::CheckListenOptions(options); !ok) return MakeError(std::move(ok).error());
  return std::optional<observe::ListenOptions>(std::move(options));
}

}  // namespace kf::cli
