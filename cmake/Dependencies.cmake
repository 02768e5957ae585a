# Finds the Debian-packaged dependencies listed in DESIGN.md §5 (scripts/setup.sh installs
# them). Nothing is vendored or downloaded.
find_package(Threads REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(CLI11 REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(liblzf REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)

# asio is header-only (libasio-dev); used standalone, without Boost.
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
add_library(kf_asio INTERFACE)
target_include_directories(kf_asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
target_compile_definitions(kf_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED)
target_link_libraries(kf_asio INTERFACE Threads::Threads)

if(KF_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(KF_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
