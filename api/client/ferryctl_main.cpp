// ferryctl: wiring only; everything lives in ferry_client so tests can run it in-process.
#include <iostream>

#include "api/client/ferryctl.hpp"

int main(int argc, char** argv) {
  return ferry::client::RunFerryctl(argc, argv, std::cout, std::cerr,
                                    ferry::client::Env::FromProcess());
}
