#include "shared/testing/test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <vector>

#include <grpcpp/generic/generic_stub.h>

#include "absl/strings/str_cat.h"
#include "shared/db/mysql_connection.h"
#include "shared/local_net.h"

namespace cx::shared::testing {

std::string TestTokensText() {
  return absl::StrCat("# test tokens\n",
                      Sha256Hex(kAcmeIngest), " acme ingest\n",
                      Sha256Hex(kAcmeRead), " acme read\n",
                      Sha256Hex(kAcmeAdmin), " acme admin\n",
                      Sha256Hex(kGlobexAdmin), " globex admin\n",
                      Sha256Hex(kServiceToken), " * service\n");
}

std::shared_ptr<const TokenStore> TestTokens() {
  auto store = TokenStore::FromText(TestTokensText());
  return *store;
}

int HealthCheck(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  grpc::GenericStub generic(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  // HealthCheckRequest{service}: field 1, length-delimited (names < 128 bytes).
  std::string encoded = service.empty() ? "" : std::string("\x0a") + static_cast<char>(service.size()) + service;
  grpc::Slice body(encoded);
  grpc::ByteBuffer request(&body, 1), response;
  std::promise<grpc::Status> done;
  generic.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                    [&](grpc::Status s) { done.set_value(s); });
  if (!done.get_future().get().ok()) return 0;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return -1;
  std::string bytes;
  for (auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  // HealthCheckResponse{status: N} is the two bytes 0x08 N.
  return bytes.size() == 2 && bytes[0] == 0x08 ? bytes[1] : -1;
}

std::string MysqlBaseUrl() {
  const char* url = std::getenv("CX_TEST_MYSQL_URL");
  return url == nullptr ? "" : url;
}

namespace {

absl::StatusOr<std::string> CreateOnTestServer(const std::string& prefix) {
  std::string base = MysqlBaseUrl();
  if (base.empty()) {
    return absl::FailedPreconditionError(
        "CX_TEST_MYSQL_URL is not set; scripts/test.sh starts MariaDB and sets it");
  }
  return db::CreateFreshMysqlDatabase(base, prefix);
}

// The databases of CreateMysqlDatabase, dropped at exit. (Registered after
// the first one is made, so after the driver it uses, which outlives this.)
std::mutex created_mu;
std::vector<std::string>* created = nullptr;
pid_t creator = 0;

void DropCreated() {
  std::lock_guard<std::mutex> lock(created_mu);
  if (getpid() != creator) return;  // a forked child that exits: the databases are its parent's
  for (const std::string& url : *created) (void)db::DropMysqlDatabase(url);
  created->clear();
}

}  // namespace

absl::StatusOr<std::string> CreateMysqlDatabase(const std::string& prefix) {
  auto url = CreateOnTestServer(prefix);
  if (!url.ok()) return url;
  std::lock_guard<std::mutex> lock(created_mu);
  if (created == nullptr) {
    created = new std::vector<std::string>();  // never freed: used at exit
    creator = getpid();
    std::atexit(DropCreated);
  }
  created->push_back(*url);
  return url;
}

ScratchDatabase::ScratchDatabase(const std::string& backend, const std::string& prefix) {
  static std::atomic<int> counter{0};
  if (backend == "mysql") {
    auto url = CreateOnTestServer(prefix);  // dropped by the destructor
    status_ = url.status();
    if (url.ok()) url_ = *url;
    return;
  }
  dir_ = (std::filesystem::temp_directory_path() / absl::StrCat(prefix, "_", getpid(), "_", counter++)).string();
  std::filesystem::remove_all(dir_);
  url_ = absl::StrCat("sqlite://", dir_, "/db.sqlite");
}

ScratchDatabase::~ScratchDatabase() {
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  } else if (status_.ok()) {
    // A server a test has stopped keeps its database: nothing to do then.
    (void)db::DropMysqlDatabase(url_);
  }
}

ServiceOptions InProcessOptions(const std::string& db_url) {
  ServiceOptions options;
  options.db_url = db_url;
  options.tokens = TestTokens();
  options.server.listen = "127.0.0.1:0";
  options.server.drain_grace = absl::ZeroDuration();
  options.page_token_key = "k";
  return options;
}

OwnMariaDb::OwnMariaDb(std::string script)
    : script_(std::move(script)), dir_(absl::StrCat("/tmp/cx-mariadb-own-", getpid(), "-", FreePort())),
      port_(FreePort()) {}

OwnMariaDb::~OwnMariaDb() { Run("remove"); }

bool OwnMariaDb::Run(const std::string& command) {
  // A small redo log and buffer pool: these servers hold a few thousand rows.
  const std::string line = absl::StrCat("CX_MARIADB_DIR=", dir_, " CX_MARIADB_PORT=", port_,
                                        " CX_MARIADB_LOG_MB=48 CX_MARIADB_BUFFER_POOL_MB=128 bash ", script_, " ",
                                        command, " > /dev/null");
  return std::system(line.c_str()) == 0;
}

std::string OwnMariaDb::url(const std::string& database) const {
  return absl::StrCat("mysql://cx:cx@127.0.0.1:", port_, "/", database);
}

bool OwnMariaDb::Sql(const std::string& sql) {
  const std::string line =
      absl::StrCat("mariadb --no-defaults --socket=", dir_, "/mysqld.sock -uroot -e \"", sql, "\" > /dev/null");
  return std::system(line.c_str()) == 0;
}

}  // namespace cx::shared::testing
