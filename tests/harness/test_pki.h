// TestPki: certificates for TLS tests, made with the `openssl` command in a temp dir at
// test time (nothing is checked in, nothing expires in the repository).
//
// One CA signs: a server certificate for 127.0.0.1 and localhost, a client certificate, a
// server certificate for another name only (name-mismatch tests), and an expired server
// certificate (`openssl x509 -req -days -1`: notAfter a day before notBefore, which
// OpenSSL 3.0 accepts). A second, unrelated CA signs a server and a client certificate
// (unknown-CA tests). Keys are P-256 (quick to make). The directory is removed with the
// object.
#pragma once

#include <memory>
#include <string>

namespace kf::test {

struct CertPair {
  std::string cert;  // PEM file
  std::string key;   // PEM file, unencrypted
};

class TestPki {
 public:
  // Makes everything; nullptr (with an ADD_FAILURE naming the openssl command) on failure.
  static std::unique_ptr<TestPki> Create();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::string& dir() const { return dir_; }
  std::string ca_cert() const { return dir_ + "/ca.pem"; }
  // A directory holding ca.pem under its OpenSSL hash name (`openssl rehash`).
  std::string ca_dir() const { return dir_ + "/ca-dir"; }
  std::string other_ca_cert() const { return dir_ + "/other-ca.pem"; }
  CertPair server() const { return {dir_ + "/server.pem", dir_ + "/server.key"}; }
  CertPair client() const { return {dir_ + "/client.pem", dir_ + "/client.key"}; }
  // Signed by the CA, for DNS:elsewhere.example only.
  CertPair wrong_name_server() const {
    return {dir_ + "/wrong-name.pem", dir_ + "/wrong-name.key"};
  }
  // Signed by the CA, for 127.0.0.1 and localhost, expired.
  CertPair expired_server() const { return {dir_ + "/expired.pem", dir_ + "/expired.key"}; }
  // Signed by the other CA.
  CertPair other_server() const { return {dir_ + "/other-server.pem", dir_ + "/other-server.key"}; }
  CertPair other_client() const { return {dir_ + "/other-client.pem", dir_ + "/other-client.key"}; }

 private:
  TestPki() = default;
  bool Make();
  bool Run(const std::string& command);
  bool WriteFile(const std::string& name, const std::string& text);

  std::string dir_;
};

}  // namespace kf::test
