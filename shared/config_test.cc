#include "shared/config.h"

#include <filesystem>

#include "shared/db/sql.h"
#include "shared/service.h"
#include "shared/testing/test_util.h"

namespace cx::shared {
namespace {

TEST(ConfigTest, FlagBeatsEnvironmentBeatsDefault) {
  auto specs = CommonOptions("0.0.0.0:1", "sqlite::memory:", "");
  std::map<std::string, std::string> env{{"CX_LISTEN", "1.2.3.4:5"}, {"CX_DB", "sqlite:///x.db"}};
  auto config = Config::Parse(specs, {"--db=sqlite:///y.db"}, &env);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->Get("listen"), "1.2.3.4:5");
  EXPECT_EQ(config->Get("db"), "sqlite:///y.db");
  EXPECT_EQ(config->Get("drain-grace-ms"), "2000");
  auto spaced = Config::Parse(specs, {"--listen", "9.9.9.9:9"}, &env);
  ASSERT_TRUE(spaced.ok());
  EXPECT_EQ(spaced->Get("listen"), "9.9.9.9:9");
}

TEST(ConfigTest, UnknownFlagsAndBadNumbersAreErrors) {
  auto specs = CommonOptions("", "", "");
  std::map<std::string, std::string> env;
  EXPECT_FALSE(Config::Parse(specs, {"--nope=1"}, &env).ok());
  EXPECT_FALSE(Config::Parse(specs, {"--listen"}, &env).ok());
  auto config = Config::Parse(specs, {"--drain-grace-ms=abc"}, &env);
  ASSERT_TRUE(config.ok());
  EXPECT_FALSE(config->GetInt("drain-grace-ms").ok());
}

TEST(ConfigTest, UsageListsEveryOptionWithItsEnvironmentName) {
  auto specs = CommonOptions("", "", "");
  std::string usage = Config::Usage("svc", specs);
  for (const auto& spec : specs) {
    EXPECT_NE(usage.find("--" + spec.name), std::string::npos) << spec.name;
    EXPECT_NE(usage.find(spec.env), std::string::npos) << spec.env;
  }
}

TEST(ConfigTest, DbCacheMbSetsEachSqliteConnectionsPageCache) {
  auto specs = CommonOptions("", "", "");
  std::map<std::string, std::string> env{{"CX_MIGRATE_ONLY", "true"}};
  for (const char* bad : {"--db-cache-mb=0", "--db-cache-mb=-3", "--db-cache-mb=lots"}) {
    auto config = Config::Parse(specs, {bad}, &env);
    ASSERT_TRUE(config.ok());
    auto options = ServiceOptions::FromConfig(*config);
    ASSERT_FALSE(options.ok()) << bad;
    EXPECT_NE(options.status().message().find("--db-cache-mb"), std::string::npos) << options.status();
  }
  auto config = Config::Parse(specs, {"--db-cache-mb=3"}, &env);
  ASSERT_TRUE(config.ok());
  auto options = ServiceOptions::FromConfig(*config);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->db_cache_kib, 3 * 1024);

  const auto dir = std::filesystem::temp_directory_path() / ("cx-cache-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto pool = db::OpenDatabase("sqlite://" + (dir / "c.db").string(), "", 1, options->db_cache_kib);
  ASSERT_TRUE(pool.ok()) << pool.status();
  {
    auto c = (*pool)->Acquire();
    ASSERT_TRUE(c.ok());
    auto rows = (*c)->Query("PRAGMA cache_size");
    ASSERT_TRUE(rows.ok() && rows->size() == 1);
    EXPECT_EQ(rows->front().Int(0), -3 * 1024);
  }
  pool->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cx::shared
