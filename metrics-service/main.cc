// metrics-service: CX numbers from the feedback and journey change feeds.
// See --help for options.
#include "metrics-service/metrics_server.h"
#include "shared/service.h"

int main(int argc, char** argv) {
  return cx::shared::RunServiceMain<cx::metrics::MetricsServer>(
      "metrics-service", cx::metrics::MetricsServiceOptionSpecs(), argc, argv);
}
