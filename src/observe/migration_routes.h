// The routes of a server watching one migration (docs/observe.md): `keyferry apply` serves
// them while it runs, `keyferry status --listen` from the journal alone (a migration that
// runs elsewhere or has ended).
//
//   /status  the JSON `keyferry status --json` prints, read from the journal per request
#pragma once

#include <string>

#include "control/journal.h"
#include "observe/http_server.h"

namespace kf::observe {

// Adds the routes to `server` (before it listens). `journal` (thread-safe) must outlive the
// server's serving; `name`, `state_dir`: as `keyferry status` shows them.
void AddMigrationRoutes(HttpServer* server, control::Journal* journal, std::string name,
                        std::string state_dir);

}  // namespace kf::observe
