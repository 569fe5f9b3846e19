#include "shared/config.h"

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

}  // namespace
}  // namespace cx::shared
