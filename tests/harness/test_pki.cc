// TestPki: see test_pki.h. Each step is one `openssl` command run by /bin/sh in the PKI's
// directory; its output goes to openssl.log, shown when a step fails.
#include "harness/test_pki.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "harness/server_process.h"

namespace kf::test {

std::unique_ptr<TestPki> TestPki::Create() {
  std::unique_ptr<TestPki> pki(new TestPki());
  pki->dir_ = MakeTempDir("kf-pki-");
  if (pki->dir_.empty()) {
    ADD_FAILURE() << "could not create a temp dir for the test certificates";
    return nullptr;
  }
  if (!pki->Make()) return nullptr;
  return pki;
}

TestPki::~TestPki() { RemoveTree(dir_); }

bool TestPki::Run(const std::string& command) {
  std::string full = "cd '" + dir_ + "' && " + command + " >>openssl.log 2>&1";
  if (std::system(full.c_str()) == 0) return true;
  std::ifstream in(dir_ + "/openssl.log");
  std::stringstream log;
  log << in.rdbuf();
  ADD_FAILURE() << "making test certificates failed: " << command << "\n" << log.str();
  return false;
}

bool TestPki::WriteFile(const std::string& name, const std::string& text) {
  std::ofstream out(dir_ + "/" + name);
  out << text;
  if (out.good()) return true;
  ADD_FAILURE() << "cannot write " << dir_ << "/" << name;
  return false;
}

bool TestPki::Make() {
  const std::string key = "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ";
  auto ca = [&](const std::string& name, const std::string& cn) {
    return Run(key + name + ".key") &&
           Run("openssl req -x509 -new -key " + name + ".key -out " + name +
               ".pem -days 2 -subj '/CN=" + cn + "' -addext basicConstraints=critical,CA:TRUE");
  };
  // A leaf signed by `signer` for `san` (empty: none), valid for `days` (negative: expired).
  auto leaf = [&](const std::string& name, const std::string& signer, const std::string& cn,
                  const std::string& san, int days) {
    std::string ext = name + ".ext";
    return Run(key + name + ".key") &&
           Run("openssl req -new -key " + name + ".key -out " + name + ".csr -subj '/CN=" + cn +
               "'") &&
           WriteFile(ext, "basicConstraints=CA:FALSE\n" +
                              (san.empty() ? std::string() : "subjectAltName=" + san + "\n")) &&
           Run("openssl x509 -req -in " + name + ".csr -CA " + signer + ".pem -CAkey " + signer +
               ".key -CAcreateserial -out " + name + ".pem -days " + std::to_string(days) +
               " -extfile " + ext);
  };
  const std::string local = "IP:127.0.0.1,DNS:localhost";
  return ca("ca", "keyferry test CA") && ca("other-ca", "unrelated test CA") &&
         leaf("server", "ca", "keyferry test server", local, 2) &&
         leaf("client", "ca", "keyferry test client", "", 2) &&
         leaf("wrong-name", "ca", "elsewhere.example", "DNS:elsewhere.example", 2) &&
         leaf("expired", "ca", "keyferry expired server", local, -1) &&
         leaf("other-server", "other-ca", "unrelated server", local, 2) &&
         leaf("other-client", "other-ca", "unrelated client", "", 2) &&
         Run("mkdir -p ca-dir && cp ca.pem ca-dir/ && openssl rehash ca-dir");
}

}  // namespace kf::test
