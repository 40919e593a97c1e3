#include "cli/cli.h"

int main(int argc, char** argv) { return onewindow::cli::run(argc, argv); }
