#include "shared/auth.h"

#include "shared/testing/test_util.h"

namespace cx::shared {
namespace {

using testing::StatusIs;

TEST(Sha256HexTest, KnownVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(TokenStoreTest, AuthenticatesByHashAndTakesTenantFromToken) {
  auto store = testing::TestTokens();
  auto p = store->Authenticate(std::string("Bearer ") + testing::kAcmeIngest);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->tenant, "acme");
  EXPECT_TRUE(p->Has(kRoleIngest));
  EXPECT_FALSE(p->Has(kRoleRead));
}

TEST(TokenStoreTest, MissingOrUnknownTokenIsUnauthenticated) {
  auto store = testing::TestTokens();
  EXPECT_THAT(store->Authenticate(""), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(store->Authenticate("Bearer "), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(store->Authenticate("Basic abc"), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(store->Authenticate("Bearer nope"), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(TokenStoreTest, RolesAreChecked) {
  auto store = testing::TestTokens();
  EXPECT_THAT(store->Authorize(std::string("Bearer ") + testing::kAcmeIngest, kRoleRead),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_TRUE(store->Authorize(std::string("Bearer ") + testing::kAcmeAdmin, kRoleRead).ok());
  EXPECT_TRUE(store->Authorize(std::string("Bearer ") + testing::kAcmeAdmin, kRoleIngest).ok());
  // The service identity reads feeds only.
  EXPECT_THAT(store->Authorize(std::string("Bearer ") + testing::kServiceToken, kRoleIngest | kRoleRead),
              StatusIs(absl::StatusCode::kPermissionDenied));
  auto svc = store->Authorize(std::string("Bearer ") + testing::kServiceToken, kRoleService);
  ASSERT_TRUE(svc.ok());
  EXPECT_TRUE(svc->IsService());
}

TEST(TokenStoreTest, RejectsMalformedFiles) {
  EXPECT_FALSE(TokenStore::FromText("abc acme ingest\n").ok());
  std::string hash = Sha256Hex("x");
  EXPECT_FALSE(TokenStore::FromText(hash + " acme superuser\n").ok());
  EXPECT_FALSE(TokenStore::FromText(hash + " * read\n").ok());
  EXPECT_FALSE(TokenStore::FromText(hash + " acme service\n").ok());
  EXPECT_FALSE(TokenStore::FromText(hash + " " + std::string(65, 'a') + " read\n").ok());
  EXPECT_FALSE(TokenStore::FromText(hash + " ac/me read\n").ok());
  EXPECT_TRUE(TokenStore::FromText("# comment\n\n" + hash + " acme read,ingest\n").ok());
}

}  // namespace
}  // namespace cx::shared
