// The dashboard's page assets (index.html, app.js, style.css), embedded in the binary at
// build time by cmake/EmbedAssets.cmake from src/observe/dashboard/: keyferry serves them
// without reading a file or reaching any other host.
#pragma once

#include <string_view>
#include <vector>

namespace kf::observe {

struct EmbeddedAsset {
  std::string_view name;  // the file name: "index.html"
  std::string_view body;  // its bytes, as in the source tree
};

// Every asset, in the order CMake listed them. Defined in the generated source.
const std::vector<EmbeddedAsset>& EmbeddedAssets();

}  // namespace kf::observe
