// feedback-service: captures what customers say. See --help for options.
#include "feedback-service/feedback_server.h"
#include "shared/service.h"

int main(int argc, char** argv) {
  return cx::shared::RunServiceMain<cx::feedback::FeedbackServer>(
      "feedback-service", cx::feedback::FeedbackServiceOptionSpecs(), argc, argv);
}
