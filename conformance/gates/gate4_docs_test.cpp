// Gate 4, docs complete: the pages the gate asks for exist under docs/ and say something; the
// top-level README links to them; every relative link in every README.md and docs page resolves
// to a file or folder of the repository; every golden file and every oracle script is named (by
// its repository path) in docs/goldens.md, so a new golden cannot land without its regeneration
// recipe.
//
// Golden files: every file under golden/ and under any tests/golden/ folder except code (.py,
// .cpp, .hpp, .h, .cmake), CMakeLists.txt and README.md. Oracle scripts: the .py files there.
// Walks the source tree from LLAMA_WORKER_SOURCE_DIR, skipping hidden folders and build*/.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gates_common.hpp"

namespace llama_worker::gates {
namespace {

namespace fs = std::filesystem;

const char* const kRequiredPages[] = {"docs/README.md",     "docs/gguf.md",
                                      "docs/tokenizers.md", "docs/architecture-detection.md",
                                      "docs/c-api.md",      "docs/goldens.md"};

fs::path root() { return fs::path(env("LLAMA_WORKER_SOURCE_DIR")); }

// Every regular file of the repository, relative paths, hidden folders and build*/ skipped.
std::vector<std::string> repository_files() {
  std::vector<std::string> files;
  const fs::path base = root();
  for (auto it = fs::recursive_directory_iterator(base); it != fs::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory() && (name.starts_with(".") || (it.depth() == 0 && name.starts_with("build")))) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) files.push_back(fs::relative(it->path(), base).string());
  }
  return files;
}

bool is_code(const std::string& path) {
  const std::string extension = fs::path(path).extension().string();
  const std::string name = fs::path(path).filename().string();
  return extension == ".py" || extension == ".cpp" || extension == ".hpp" || extension == ".h" ||
         extension == ".cmake" || name == "CMakeLists.txt" || name == "README.md";
}

bool in_golden_folder(const std::string& path) {
  return path.starts_with("golden/") || path.find("/tests/golden/") != std::string::npos;
}

TEST(Gate4Docs, RequiredPagesExistAndSaySomething) {
  for (const char* page : kRequiredPages) {
    auto text = read_file((root() / page).string());
    ASSERT_TRUE(text.has_value()) << page << " is missing";
    EXPECT_GT(text->size(), 1000u) << page << " is too short to document anything";
    EXPECT_EQ(text->rfind("# ", 0), 0u) << page << " must start with a '# ' title";
  }
}

TEST(Gate4Docs, TheTopLevelReadmeLinksTheDocs) {
  auto readme = read_file((root() / "README.md").string());
  ASSERT_TRUE(readme.has_value());
  EXPECT_NE(readme->find("](docs/"), std::string::npos)
      << "README.md must link to docs/ (e.g. [docs](docs/README.md))";
  auto index = read_file((root() / "docs/README.md").string());
  ASSERT_TRUE(index.has_value());
  for (const char* page : kRequiredPages) {
    const std::string name = fs::path(page).filename().string();
    if (name == "README.md") continue;
    EXPECT_NE(index->find("](" + name + ")"), std::string::npos) << "docs/README.md does not link " << name;
  }
}

// The example in docs/c-api.md is the program CTest compiles and runs (gate4_c_api_example_cpu).
TEST(Gate4Docs, TheCApiExampleIsTheCompiledProgram) {
  auto source = read_file((root() / "conformance/gates/c_api_example.c").string());
  auto page = read_file((root() / "docs/c-api.md").string());
  ASSERT_TRUE(source && page);
  const std::string begin = "/* example begin */\n", end = "/* example end */";
  const size_t from = source->find(begin), to = source->find(end);
  ASSERT_TRUE(from != std::string::npos && to != std::string::npos && from < to);
  const std::string example = source->substr(from + begin.size(), to - from - begin.size());
  EXPECT_GT(example.size(), 1000u);
  EXPECT_NE(page->find("```c\n" + example + "```"), std::string::npos)
      << "docs/c-api.md does not quote conformance/gates/c_api_example.c (between its markers) verbatim";
}

TEST(Gate4Docs, EveryRelativeLinkInReadmesAndDocsResolves) {
  const std::regex link(R"(\]\(([^)\s]+)\))");
  size_t pages = 0, links = 0;
  std::vector<std::string> broken;
  for (const std::string& file : repository_files()) {
    const bool is_doc =
        fs::path(file).filename() == "README.md" || (file.starts_with("docs/") && file.ends_with(".md"));
    if (!is_doc) continue;
    ++pages;
    const std::string text = read_file((root() / file).string()).value_or("");
    bool in_fence = false;
    std::istringstream lines(text);
    std::string line;
    for (int number = 1; std::getline(lines, line); ++number) {
      if (line.starts_with("```")) in_fence = !in_fence;
      if (in_fence) continue;
      for (auto m = std::sregex_iterator(line.begin(), line.end(), link); m != std::sregex_iterator(); ++m) {
        std::string target = (*m)[1].str();
        if (target.find("://") != std::string::npos || target.starts_with("mailto:") ||
            target.starts_with("#"))
          continue;
        target = target.substr(0, target.find('#'));
        ++links;
        const fs::path resolved = (root() / file).parent_path() / target;
        if (!fs::exists(resolved)) broken.push_back(file + ":" + std::to_string(number) + ": " + target);
      }
    }
  }
  std::printf("%zu pages, %zu relative links\n", pages, links);
  EXPECT_GE(pages, 10u);
  std::string report;
  for (const std::string& b : broken) report += "\n  " + b;
  EXPECT_TRUE(broken.empty()) << "broken relative links:" << report;
}

TEST(Gate4Docs, EveryGoldenFileAndOracleScriptIsInGoldensMd) {
  auto goldens = read_file((root() / "docs/goldens.md").string());
  ASSERT_TRUE(goldens.has_value()) << "docs/goldens.md is missing";
  size_t data_files = 0, scripts = 0;
  std::vector<std::string> missing;
  for (const std::string& file : repository_files()) {
    if (!in_golden_folder(file)) continue;
    const bool script = file.ends_with(".py");
    if (!script && is_code(file)) continue;
    (script ? scripts : data_files) += 1;
    if (goldens->find(file) == std::string::npos) missing.push_back(file);
  }
  std::printf("%zu golden files, %zu oracle scripts\n", data_files, scripts);
  EXPECT_GE(data_files, 40u);
  EXPECT_GE(scripts, 6u);
  std::string report;
  for (const std::string& m : missing) report += "\n  " + m;
  EXPECT_TRUE(missing.empty()) << "not named in docs/goldens.md (add how to regenerate it):" << report;
}

}  // namespace
}  // namespace llama_worker::gates
