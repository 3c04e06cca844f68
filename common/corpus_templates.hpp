// The words and sentence templates of the procedural corpus (see corpus.cpp for how they
// are put together). Slots in braces are filled per story: {name} {he} {him} {his} {himself}
// {was} {kind} {adj} {a_adj} for the hero, the same with an "f" ({friend} {fhe} {fhis} ...)
// for the friend, and {obj} {a_obj} {place} {place2} {time} {goal} {line} {line_said}.
// Only corpus.cpp includes this file. Add words or templates freely: the tests check that
// every template fills and that pronouns stay consistent.
#pragma once

#include <string_view>
#include <vector>

namespace ds::corpus::templates {

using Words = std::vector<std::string_view>;

inline const Words kSheNames = {
    "Lily", "Mia", "Emma", "Sofia", "Ava", "Zoe", "Lucy", "Anna", "Rosa", "Maya", "Chloe", "Ella",
    "Grace", "Ruby", "Nora", "Hannah", "Leah", "Amara", "Priya", "Mei", "Aisha", "Fatima", "Ingrid",
    "Olga", "Yuki", "Sara", "Clara", "Ivy", "Hazel", "Daisy", "Poppy", "Molly", "Julia", "Elena",
    "Nina", "Tara"};
inline const Words kHeNames = {
    "Tom", "Ben", "Leo", "Max", "Jack", "Noah", "Liam", "Oscar", "Finn", "Hugo", "Omar", "Ravi",
    "Kenji", "Diego", "Luca", "Felix", "Theo", "Arthur", "Henry", "Oliver", "Jacob", "Ethan",
    "Mateo", "Kofi", "Tariq", "Ivan", "Pedro", "Marco", "Timmy", "Bruno", "Simon", "Peter",
    "Daniel", "Kai", "Arjun", "Samuel"};
inline const Words kTheyNames = {
    "Alex", "Sam", "Robin", "River", "Sky", "Jordan", "Riley", "Charlie", "Quinn", "Avery", "Jamie",
    "Morgan", "Sage", "Rowan", "Ash", "Kit", "Eden", "Blair", "Jules", "Remy"};
inline const Words kAnimalNames = {
    "Whiskers", "Pip", "Biscuit", "Coco", "Bubbles", "Patch", "Pepper", "Muffin", "Rusty", "Button",
    "Nibbles", "Sunny", "Ziggy", "Pumpkin", "Clover", "Maple"};
inline const Words kAnimals = {
    "cat", "dog", "rabbit", "fox", "bear", "mouse", "duck", "frog", "owl", "squirrel", "turtle",
    "puppy", "kitten", "lamb", "pig", "hedgehog"};
inline const Words kAdjectives = {
    "kind", "brave", "curious", "happy", "shy", "clever", "little", "gentle", "cheerful", "funny",
    "quiet", "silly", "friendly", "busy", "careful", "sleepy", "bright", "young", "smart", "proud",
    "lucky", "playful"};
inline const Words kPlaces = {
    "park", "forest", "beach", "garden", "farm", "school", "library", "market", "lake", "river",
    "hill", "village square", "castle", "zoo", "museum", "bakery", "playground", "meadow", "pond",
    "field", "barn", "harbor", "orchard", "old bridge", "toy shop", "train station", "mountain",
    "big tree", "candy shop", "swimming pool"};
inline const Words kObjects = {
    "ball", "kite", "book", "hat", "key", "box", "map", "shell", "drum", "toy boat", "robot",
    "doll", "teddy bear", "paper boat", "blanket", "basket", "ribbon", "bell", "coin", "feather",
    "stone", "whistle", "jar", "letter", "picture", "scarf", "umbrella", "backpack", "ring",
    "toy plane", "toy train", "flute", "crown", "marble", "puzzle", "yo-yo"};
inline const Words kObjectAdjectives = {
    "red", "blue", "green", "yellow", "purple", "orange", "shiny", "old", "new", "small", "big",
    "soft", "round", "tiny", "golden", "striped", "wooden", "heavy", "pretty", "special", "silver",
    "spotted"};
inline const Words kTimes = {"One sunny morning", "One rainy afternoon", "Last summer",
    "One cold winter day", "On a bright spring day", "One Saturday", "Early one morning",
    "One windy day", "After school one day", "One quiet evening"};
inline const Words kGoals = {"build a sandcastle", "bake a cake", "climb the tallest tree",
    "plant a garden", "find a hidden treasure", "win the big race", "paint a picture of the sea",
    "learn to swim", "catch a fish", "make a new friend", "read a whole book",
    "sing in the school show", "ride a bike without help", "fly a kite", "build a tower of blocks",
    "make a card for {his} mom", "see the stars at night", "find the biggest shell on the beach",
    "cook soup for the family", "learn to whistle", "build a tree house", "draw a map of the town",
    "jump over the big puddle", "pick apples in the orchard", "write a song", "grow a sunflower"};

inline const Words kIntro = {"Once upon a time, there was {a_adj} {kind} named {name}.",
    "{name} was {a_adj} {kind} who lived near the {place}.",
    "There once was {a_adj} {kind} called {name}.", "{time}, {name} went to the {place}.",
    "{name} lived in a small house by the {place}.", "{time}, {name} felt very excited.",
    "Long ago, in a quiet village, there lived {a_adj} {kind} named {name}.",
    "{name} loved to play at the {place}.", "{time}, {name} and {his} mom went to the {place}.",
    "{name} was {a_adj} {kind} with a big heart.", "Every day, {name} walked to the {place}."};
inline const Words kSetting = {"The birds were singing in the trees.",
    "It was a lovely day to be outside.", "{name} liked the {place} more than any other place.",
    "{he} {was} {adj} and liked to help others.",
    "{his} best friend was {a_fadj} {fkind} named {friend}.",
    "Everyone in town knew {name}.", "{he} liked to sing songs and tell jokes."};
inline const Words kOwn = {"{name} had {a_obj} that {he} loved very much.",
    "{name}'s favorite thing was {a_obj}.", "{name} got {a_obj} for {his} birthday.",
    "Every day, {name} played with {his} {obj}.", "{name}'s grandpa gave {him} {a_obj}."};
inline const Words kWant = {"{name} wanted to {goal}.", "{he} really wanted to {goal}.",
    "One day, {name} decided to {goal}.", "More than anything, {name} wished to {goal}.",
    "{name} had a big plan: {he} wanted to {goal}."};

struct Episode {   // a problem and how it is solved alone or with the friend's help
  std::string_view problem, solo, with_friend;
};
inline const std::vector<Episode> kLost = {
    {"One day, {he} could not find {his} {obj} anywhere.",
     "{he} looked everywhere, and at last {he} found it under a pile of leaves.",
     "{friend} helped {him} look for it, and soon {fhe} found it under a chair."},
    {"Then a strong wind came and blew the {obj} into a tall tree.",
     "{name} found a long stick and poked the {obj} until it fell down.",
     "{friend} climbed the tree and brought the {obj} back down."},
    {"But the {obj} fell into the pond with a big splash.",
     "{name} reached in carefully and pulled the {obj} out of the water.",
     "{friend} used a long stick to pull the {obj} out of the water."},
    {"One day, {name} dropped the {obj}, and it broke into two pieces.",
     "{he} found some glue and fixed it very carefully.",
     "{friend} brought some glue, and the two friends fixed it together."},
    {"Later that day, {name} left the {obj} at the {place2} by mistake.",
     "{he} ran all the way back to the {place2}, and the {obj} was still there.",
     "{friend} had seen it there and kept it safe for {him}."},
    {"But a playful puppy grabbed the {obj} and ran away.",
     "{name} chased the puppy around the {place2} until it dropped the {obj}.",
     "{friend} threw a stick for the puppy, and the puppy dropped the {obj}."}};
inline const std::vector<Episode> kHard = {
    {"But it was harder than {he} thought.",
     "{name} tried again and again, and each time {he} got a little better.",
     "{friend} showed {him} a better way to do it."},
    {"But then dark clouds came, and it started to rain.",
     "{name} waited inside and read a book until the sun came out again.",
     "{friend} shared {fhis} big umbrella, and soon the rain stopped."},
    {"But the other children laughed at {him}.", "{name} did not listen and kept trying.",
     "{friend} stood next to {him} and said, \"Don't listen to the others.\""},
    {"But {he} felt scared and did not know what to do.",
     "{name} took a deep breath and said to {himself}, \"I can do this.\"",
     "{friend} held {his} hand and said, \"You are braver than you think.\""},
    {"But {he} did not have the things {he} needed.",
     "{he} asked the kind shopkeeper, who gave {him} everything for free.",
     "{friend} ran home and came back with everything {name} needed."},
    {"On the way, {name} got lost near the {place2}.",
     "{he} followed the sound of the river and found the way home.",
     "{friend} knew the way and led {him} back."},
    {"But the first try did not work at all.",
     "{name} did not give up, and the second try was much better.",
     "{friend} laughed kindly and said, \"Let's try again together.\""},
    {"But after a while, {he} {was} very tired.",
     "{he} sat down, ate an apple, and felt strong again.",
     "{friend} gave {him} some water and a sandwich."}};

inline const Words kHeroLines = {"Oh no!", "What should I do now?", "I will not give up!",
    "Can anyone help me?", "This is so hard!", "Please, I need some help.",
    "I wish I knew what to do.", "Oh dear, oh dear!"};
inline const Words kSaying = {"\"{line_said}\" said {name}.", "\"{line_said}\" {name} cried.",
    "{name} said, \"{line}\"", "{name} looked down and said, \"{line}\""};
inline const Words kFriendLines = {"Don't worry, I will help you.", "We can do it together!",
    "Let me help you.", "I know what to do!", "Follow me!", "You are not alone.",
    "Don't be sad. We will fix this."};
inline const Words kArrival = {"Just then, {name}'s friend {friend} came by.",
    "{friend}, {a_fadj} {fkind} from next door, saw what happened.",
    "Then {friend} came running over."};
inline const Words kAfter = {"{name} smiled from ear to ear.",
    "{name} jumped up and down with joy.",
    "{he} hugged {friend} and said, \"Thank you!\"",
    "{he} said, \"Thank you, {friend}! You are a good friend.\""};
inline const Words kEnding = {"From that day on, {name} and {friend} were best friends.",
    "{name} learned that it is good to ask {friend} for help.", "{name} learned to never give up.",
    "That night, {name} went to bed with a big smile.", "{he} {was} very proud of {himself}.",
    "It was the best day ever.", "{name} and {friend} played together until the sun went down.",
    "{he} {was} happy again.", "{name}'s mom gave {him} a warm hug.",
    "{he} could not wait to tell {his} family all about it."};
inline const Words kCalmEnding = {"That night, {name} went to bed with a big smile.",
    "It was the best day ever.", "{he} {was} very happy.",
    "{name} and {friend} played together until the sun went down."};
inline const Words kLostEnding = {"From then on, {name} took good care of {his} {obj}."};
inline const Words kWantEnding = {"Everyone clapped and cheered for {name}."};
inline const Words kPlay = {"{he} played with {his} {obj} all afternoon.",
    "{he} saw a little bird singing in a tree.",
    "{he} ran, jumped and laughed with the other children.",
    "{he} ate a big red apple under a tree.", "{he} counted the clouds in the sky.",
    "{he} built a little house out of sticks and leaves."};

}  // namespace ds::corpus::templates
