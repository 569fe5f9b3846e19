// journey-service: tracks what customers do. See --help for options.
#include "journey-service/journey_server.h"
#include "shared/service.h"

int main(int argc, char** argv) {
  return cx::shared::RunServiceMain<cx::journey::JourneyServer>(
      "journey-service", cx::journey::JourneyServiceOptionSpecs(), argc, argv);
}
