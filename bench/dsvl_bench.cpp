#include "driver.hpp"

int main(int argc, char** argv) { return dsvl::bench::run(argc, argv); }
