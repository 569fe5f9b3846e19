// Test helpers shared by every service's tests: status matchers, the test
// tokens, and throwaway MySQL databases on the MariaDB the test script starts.
#ifndef CX_SHARED_TESTING_TEST_UTIL_H_
#define CX_SHARED_TESTING_TEST_UTIL_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "shared/auth.h"
#include "shared/service.h"
#include "shared/status.h"

namespace cx::shared::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) { return s.status(); }

#define CX_ASSERT_OK(expr) ASSERT_TRUE(::cx::shared::testing::GetStatus(expr).ok()) << ::cx::shared::testing::GetStatus(expr)
#define CX_EXPECT_OK(expr) EXPECT_TRUE(::cx::shared::testing::GetStatus(expr).ok()) << ::cx::shared::testing::GetStatus(expr)

MATCHER_P(StatusIs, code, "") {
  const absl::Status& s = ::cx::shared::testing::GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code;
}

// The status has `code` and a field violation naming `field`.
MATCHER_P2(StatusIsField, code, field, "") {
  const absl::Status& s = ::cx::shared::testing::GetStatus(arg);
  *result_listener << "status is " << s;
  if (s.code() != code) return false;
  for (const auto& v : ::cx::shared::FieldViolations(s)) {
    if (v.field == field) return true;
  }
  return false;
}

// Tokens used across tests. Each is "<tenant>-<role>" in clear; the store
// holds their hashes.
inline constexpr char kAcmeIngest[] = "acme-ingest-token";
inline constexpr char kAcmeRead[] = "acme-read-token";
inline constexpr char kAcmeAdmin[] = "acme-admin-token";
inline constexpr char kGlobexAdmin[] = "globex-admin-token";
inline constexpr char kServiceToken[] = "metrics-service-token";

std::string TestTokensText();
std::shared_ptr<const TokenStore> TestTokens();

// grpc.health.v1 Check of `service` ("" = the whole server): 1 SERVING,
// 2 NOT_SERVING, 0 when the call itself failed (for example the listener is
// closed or the name is unknown).
int HealthCheck(const std::shared_ptr<grpc::Channel>& channel, const std::string& service = "");

// Options of a service under test: the test tokens, 127.0.0.1 port 0, no
// drain grace, a fixed page-token key.
ServiceOptions InProcessOptions(const std::string& db_url);

// A stub that sends the bearer token with every call (20 s deadline).
template <class Stub>
struct TokenClient {
  std::unique_ptr<Stub> stub;

  template <class Req, class Resp>
  absl::StatusOr<Resp> Call(grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*), const Req& req,
                            const std::string& token) {
    grpc::ClientContext ctx;
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    Resp resp;
    grpc::Status s = (stub.get()->*method)(&ctx, req, &resp);
    if (!s.ok()) return FromGrpcStatus(s);
    return resp;
  }
};

template <class Service>
TokenClient<typename Service::Stub> ConnectLocal(int port) {
  return {Service::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()))};
}

// Polls `done` every 20 ms for up to 30 s (a bound for correctness, not a
// performance target); returns whether it became true.
inline bool WaitFor(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}


// A MariaDB of the test's own (scripts/mariadb.sh with its own directory
// and port), for tests that stop, kill or restart the database. Stopped on
// destruction, and its directory removed.
class OwnMariaDb {
 public:
  explicit OwnMariaDb(std::string script);
  ~OwnMariaDb();
  // "start" (fresh data, database cx), "stop", "resume", "kill9".
  bool Run(const std::string& command);
  std::string url(const std::string& database = "cx") const;
  // Runs SQL as root through the server's socket.
  bool Sql(const std::string& sql);

 private:
  std::string script_;
  std::string dir_;
  int port_;
};

// mysql:// URL of the MariaDB started by the test script (CX_TEST_MYSQL_URL),
// or empty when it is not set.
std::string MysqlBaseUrl();
// Creates a new empty database on that server and returns its URL. The
// database is dropped when the test program exits.
absl::StatusOr<std::string> CreateMysqlDatabase(const std::string& prefix);

// A throwaway database for one backend: "sqlite" (a file in a fresh temp
// directory, removed afterwards) or "mysql" (a new database on the test
// MariaDB, dropped afterwards). Conformance suites are parameterized by the
// backend name.
class ScratchDatabase {
 public:
  ScratchDatabase(const std::string& backend, const std::string& prefix);
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  const absl::Status& status() const { return status_; }
  const std::string& url() const { return url_; }

 private:
  absl::Status status_;
  std::string url_;
  std::string dir_;
};

}  // namespace cx::shared::testing

#endif  // CX_SHARED_TESTING_TEST_UTIL_H_
