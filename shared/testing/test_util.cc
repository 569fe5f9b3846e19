#include "shared/testing/test_util.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "shared/db/mysql_connection.h"

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

std::string MysqlBaseUrl() {
  const char* url = std::getenv("CX_TEST_MYSQL_URL");
  return url == nullptr ? "" : url;
}

absl::StatusOr<std::string> CreateMysqlDatabase(const std::string& prefix) {
  std::string base = MysqlBaseUrl();
  if (base.empty()) {
    return absl::FailedPreconditionError(
        "CX_TEST_MYSQL_URL is not set; scripts/test.sh starts MariaDB and sets it");
  }
  auto target = db::ParseMysqlUrl(base, "");
  if (!target.ok()) return target.status();
  auto conn = db::OpenMysql(*target);
  if (!conn.ok()) return conn.status();
  static std::atomic<int> counter{0};
  std::string name = absl::StrCat(prefix, "_", getpid(), "_", counter++);
  if (auto s = (*conn)->Execute(absl::StrCat("DROP DATABASE IF EXISTS ", name)); !s.ok()) return s.status();
  if (auto s = (*conn)->Execute(absl::StrCat("CREATE DATABASE ", name)); !s.ok()) return s.status();
  return absl::StrCat("mysql://", target->user, ":", target->password, "@", target->host, ":",
                      target->port, "/", name);
}

}  // namespace cx::shared::testing
