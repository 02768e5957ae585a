// keyferry's entry point.
#include "cli/cli_app.h"

int main(int argc, char** argv) { return kf::cli::RunCli(argc, argv); }
