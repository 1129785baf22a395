#pragma once
namespace dsvl::bench {
// Runs the registered benchmark cases; argv as dsvl-bench takes it (argv[0] is the program).
int run(int argc, char** argv);
}  // namespace dsvl::bench
