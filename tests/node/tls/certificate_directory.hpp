// Test certificates made with the `openssl` command: two CAs (cluster-ca, other-ca), leaf
// certificates node-1 and node-2 from cluster-ca and intruder from other-ca, all with the
// subjectAltNames IP:127.0.0.1 and DNS:localhost, in a temporary directory removed after.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "tls/tls_context.hpp"

namespace annal::tls::test {

// A directory with two CAs and certificates signed by them (openssl CLI, EC P-256).
class CertificateDirectory {
  public:
    CertificateDirectory() {
        dir_ = std::filesystem::temp_directory_path() /
               ("annal-tls-test-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
        std::ofstream(dir_ / "san.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
        std::ofstream(dir_ / "make.sh")
            << "set -e\n"
               "ca() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \\\n"
               "  -keyout $1.key -out $1.pem -days 2 -subj /CN=$1; }\n"
               "leaf() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \\\n"
               "  -keyout $1.key -out $1.csr -subj /CN=$1\n"
               "  openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key -CAcreateserial \\\n"
               "  -out $1.pem -days 2 -extfile san.ext; }\n"
               "ca cluster-ca; ca other-ca\n"
               "leaf node-1 cluster-ca; leaf node-2 cluster-ca; leaf intruder other-ca\n";
        const std::string command = "cd '" + dir_.string() + "' && bash make.sh >make.log 2>&1";
        ok_ = std::system(command.c_str()) == 0;
    }
    ~CertificateDirectory() {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    bool ok() const { return ok_; }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }
    TlsFiles files(const std::string& leaf, const std::string& ca) const {
        return TlsFiles{path(leaf + ".pem"), path(leaf + ".key"), path(ca + ".pem")};
    }

  private:
    std::filesystem::path dir_;
    bool ok_ = false;
};

}  // namespace annal::tls::test
