#include <doctest/doctest.h>

#include "ch07/chat_template.hpp"

using namespace ds::ch07;

TEST_CASE("chat template: R1's Table 1 prompt and the compact form") {
  const std::string p = ChatTemplate::r1().prompt("Add 2 + 3");
  CHECK(p.rfind("A conversation between User and Assistant.", 0) == 0);
  CHECK(p.find("<think> reasoning process here </think> <answer> answer here </answer>.") != std::string::npos);
  const std::string tail = "User: Add 2 + 3. Assistant:";
  CHECK(p.substr(p.size() - tail.size()) == tail);
  CHECK(p[p.size() - tail.size() - 1] == ' ');
  CHECK(ChatTemplate::compact().prompt("Add 2 + 3") == "User: Add 2 + 3. Assistant:");
  CHECK(template_special_tokens() == std::vector<std::string>{"<think>", "</think>", "<answer>", "</answer>"});
}

TEST_CASE("chat template: a formatted completion parses back into its parts") {
  const std::string c = format_completion("5+8=13, 4+7+1=12", "324");
  CHECK(c == " <think> 5+8=13, 4+7+1=12 </think> <answer> 324 </answer>");
  const ParsedCompletion p = parse_completion(c);
  CHECK(p.well_formed);
  CHECK(p.answer == "324");
  CHECK(p.reasoning == "5+8=13, 4+7+1=12");
  CHECK(format_reward(c) == 1.f);
  CHECK(format_reward(c + "<|endoftext|>") == 1.f);   // the stop token is not part of the format
  CHECK(format_reward("<think></think><answer>7</answer>") == 1.f);   // an empty reasoning is allowed
  CHECK(format_reward("\n<think>\nx\n</think>\n\n<answer>\n7\n</answer>\n") == 1.f);
}

TEST_CASE("chat template: the format reward refuses everything else") {
  for (const char* bad : {"",
                          "324",
                          "<answer>324</answer>",                                        // no reasoning block
                          "<think>x</think>",                                            // no answer block
                          "<think>x</think> 324",                                        // answer outside the markers
                          "<think>x</think> <answer></answer>",                          // empty answer
                          "<think>x</think> <answer>   </answer>",                       // blank answer
                          "<think>x <answer>324</answer>",                               // reasoning never closed
                          "<think>x</think> <answer>324",                                // answer never closed
                          "<answer>324</answer> <think>x</think>",                       // wrong order
                          "<think>x</think> <answer>3</answer> <answer>4</answer>",      // two answers
                          "<think>x</think> <answer>324</answer> and more",              // text after the answer
                          "so <think>x</think> <answer>324</answer>",                    // text before the reasoning
                          "<think>x <think> y</think> <answer>324</answer>",             // nested marker
                          "<think>x</think> words <answer>324</answer>",                 // text between the blocks
                          "<THINK>x</THINK> <ANSWER>324</ANSWER>",                       // markers are case-sensitive
                          "\xEF\xBC\x9Cthink>x</think> <answer>324</answer>"}) {         // a fullwidth '<'
    INFO("completion: " << bad);
    CHECK(format_reward(bad) == 0.f);
  }
}

TEST_CASE("chat template: the answer is read only from exactly one <answer> block") {
  CHECK(parse_completion("<answer> 42 </answer>").answer == "42");   // the answer does not need the format
  CHECK(!parse_completion("").answer);
  CHECK(!parse_completion("<think>42</think>").answer);
  CHECK(!parse_completion("42").answer);
  CHECK(!parse_completion("<answer>4</answer><answer>2</answer>").answer);
  CHECK(!parse_completion("</answer>42<answer>").answer);
  CHECK(!parse_completion("<answer> \t\n </answer>").answer);
  CHECK(parse_completion("<answer>\xC2\xA0" "42</answer>").answer == "\xC2\xA0" "42");   // NBSP is not ASCII whitespace
  CHECK(trim_ascii(" \t\r\n\v\fx y\n") == "x y");
}
