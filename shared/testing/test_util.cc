#include "shared/testing/test_util.h"

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
  return db::CreateFreshMysqlDatabase(base, prefix);
}

}  // namespace cx::shared::testing
