// Migration routes: every answer is read from the journal when the request comes.
#include "observe/migration_routes.h"

#include "observe/journal_status.h"

namespace kf::observe {

void AddMigrationRoutes(HttpServer* server, control::Journal* journal, std::string name,
                        std::string state_dir) {
  server->Handle("/status", [journal, name = std::move(name),
                             state_dir = std::move(state_dir)](const HttpRequest&) {
    auto status = ReadJournalStatus(*journal);
    if (!status) {
      return HttpResponse{
          500, "text/plain; charset=utf-8",
          "cannot read the journal in " + state_dir + ": " + status.error().ToString() + "\n"};
    }
    return HttpResponse{200, "application/json",
                        JournalStatusJson(name, state_dir, *status).dump()};
  });
}

}  // namespace kf::observe
