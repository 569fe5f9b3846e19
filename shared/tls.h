// TLS credentials from PEM files, for servers (optionally requiring client
// certificates: mTLS) and for the project's own clients (optionally
// presenting one). Empty paths mean plaintext.
#ifndef CX_SHARED_TLS_H_
#define CX_SHARED_TLS_H_

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"

namespace cx::shared {

struct ServerTlsFiles {
  std::string cert;       // PEM certificate chain; empty: plaintext
  std::string key;        // PEM private key
  std::string client_ca;  // PEM CA bundle; set: every client must present a certificate it signed
};

struct ClientTlsFiles {
  std::string ca;    // PEM roots that sign the server; empty: plaintext
  std::string cert;  // optional client certificate chain (mTLS)
  std::string key;   // its private key
};

// Reads a whole file; the error names `what` (e.g. "--tls-cert"), not the contents.
absl::StatusOr<std::string> ReadPemFile(const std::string& path, const std::string& what);

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const ServerTlsFiles& files);
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(const ClientTlsFiles& files);

}  // namespace cx::shared

#endif  // CX_SHARED_TLS_H_
