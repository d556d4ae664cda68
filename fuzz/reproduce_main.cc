// A reproducer for the fuzz targets without libFuzzer (the g++ build):
// runs each file given (or each file in each directory given) as a fuzz
// input and prints its verdict. Exit 1 if any input found something.
//
//   build/dev/fuzz/iocpsim_reproduce corpus/iocpsim_fuzz/ crash-1234
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/fuzz_input.h"

int main(int argc, char** argv) {
  bool current_only = false;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--current") {
      current_only = true;
      continue;
    }
    std::error_code ec;
    if (std::filesystem::is_directory(a, ec)) {
      for (const auto& e : std::filesystem::directory_iterator(a)) files.push_back(e.path().string());
    } else {
      files.push_back(a);
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::fprintf(stderr, "usage: iocpsim_reproduce [--current] FILE|DIR ...\n");
    return 2;
  }
  int found = 0;
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "iocpsim_reproduce: cannot read %s\n", f.c_str());
      return 2;
    }
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto r = iocpsim::RunFuzzInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                   current_only, false);
    iocpsim::FuzzInput d = iocpsim::DecodeFuzzInput(
        reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), current_only);
    std::printf("%s: %s %s  %s %s\n", f.c_str(), d.scenario->name, d.profile.c_str(),
                iocpsim::scenarios::VerdictName(r.verdict.verdict), r.verdict.signature.c_str());
    found += r.verdict.verdict != iocpsim::scenarios::Verdict::kOk;
  }
  return found > 0 ? 1 : 0;
}
