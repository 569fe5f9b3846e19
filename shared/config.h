// Configuration from command-line flags with an environment equivalent.
// Every service uses the same names for the common options (--listen /
// CX_LISTEN, --db / CX_DB, ...); a flag wins over its environment variable,
// which wins over the default. --help lists every option.
#ifndef CX_SHARED_CONFIG_H_
#define CX_SHARED_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cx::shared {

struct OptionSpec {
  std::string name;       // flag name without dashes, e.g. "listen"
  std::string env;        // e.g. "CX_LISTEN"
  std::string default_value;
  std::string help;
};

class Config {
 public:
  // Parses argv against specs; unknown flags are an error. `environ_lookup`
  // defaults to getenv (tests pass their own).
  static absl::StatusOr<Config> Parse(const std::vector<OptionSpec>& specs,
                                      const std::vector<std::string>& args,
                                      const std::map<std::string, std::string>* env = nullptr);

  // Parses or prints help / the error and exits.
  static Config ParseOrExit(const std::string& program, const std::vector<OptionSpec>& specs,
                            int argc, char** argv);

  static std::string Usage(const std::string& program, const std::vector<OptionSpec>& specs);

  const std::string& Get(const std::string& name) const;
  absl::StatusOr<int64_t> GetInt(const std::string& name) const;
  absl::StatusOr<bool> GetBool(const std::string& name) const;

 private:
  std::map<std::string, std::string> values_;
};

// The options every service has, with the same names everywhere.
std::vector<OptionSpec> CommonOptions(const std::string& default_listen,
                                      const std::string& default_db,
                                      const std::string& default_metrics_listen);

}  // namespace cx::shared

#endif  // CX_SHARED_CONFIG_H_
