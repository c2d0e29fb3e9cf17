"""Writes templates/dish-restrictions.yaml: dishes × diners' restrictions, labelled by a fixed rule.

Every dish lists its ingredients, every ingredient its tags (meat, dairy,
gluten, …), and every restriction the tags a diner cannot eat. A case is
one dish for one diner, labelled "Avoid" when any ingredient has a tag the
diner cannot eat, else "Likely good". Every pair is a case. The split is
stratified by label: each label's cases are shuffled with a fixed seed and
cut 70 / 15 / 15 into train, validation and test, and the split is the
first word of the case id (`train-…`, `validation-…`, `test-…`).

Run `python docs/make_dish_restrictions.py` after changing the tables;
`--check` exits 1 when the file differs from what the tables give (a test
runs it).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "templates" / "dish-restrictions.yaml"
SPLIT_SEED = 20260101
SPLIT_SHARES = (("train", 0.70), ("validation", 0.15), ("test", 0.15))
AVOID, LIKELY_GOOD = "Avoid", "Likely good"

# Ingredient → what it is, for the rule. Ingredients not listed here have no tag.
TAGS: dict[str, frozenset[str]] = {
    name: frozenset(tags.split())
    for name, tags in {
        "beef": "meat",
        "pork": "meat pork",
        "bacon": "meat pork",
        "ham": "meat pork",
        "chorizo": "meat pork",
        "chicken": "meat",
        "lamb": "meat",
        "duck": "meat",
        "salmon": "fish",
        "tuna": "fish",
        "cod": "fish",
        "anchovies": "fish",
        "fish sauce": "fish",
        "shrimp": "shellfish",
        "mussels": "shellfish",
        "crab": "shellfish",
        "scallops": "shellfish",
        "milk": "dairy",
        "cream": "dairy",
        "butter": "dairy",
        "parmesan": "dairy",
        "mozzarella": "dairy",
        "feta": "dairy",
        "gruyère": "dairy",
        "mascarpone": "dairy",
        "eggs": "egg",
        "mayonnaise": "egg",
        "wheat flour": "gluten",
        "bread": "gluten",
        "pasta": "gluten",
        "noodles": "gluten",
        "breadcrumbs": "gluten",
        "flatbread": "gluten",
        "couscous": "gluten",
        "soy sauce": "gluten",
        "filo pastry": "gluten",
        "sponge fingers": "gluten egg",
        "shortcrust pastry": "gluten dairy",
        "puff pastry": "gluten dairy",
        "beer": "gluten alcohol",
        "peanuts": "peanut",
        "peanut sauce": "peanut",
        "almonds": "tree_nut",
        "walnuts": "tree_nut",
        "pine nuts": "tree_nut",
        "pistachios": "tree_nut",
        "onion": "allium",
        "garlic": "allium",
        "leek": "allium",
        "shallots": "allium",
        "spring onion": "allium",
        "mushrooms": "mushroom",
        "red wine": "alcohol",
        "white wine": "alcohol",
        "rum": "alcohol",
        "orange liqueur": "alcohol",
        "sesame seeds": "sesame",
        "sesame oil": "sesame",
        "tahini": "sesame",
        "honey": "honey",
    }.items()
}

# The diner's words → the tags they cannot eat; the key names the case.
RESTRICTIONS: dict[str, tuple[str, frozenset[str]]] = {
    key: (words, frozenset(tags.split()))
    for key, (words, tags) in {
        "vegetarian": ("Vegetarian", "meat fish shellfish"),
        "vegan": ("Vegan", "meat fish shellfish dairy egg honey"),
        "peanut-allergy": ("Allergic to peanuts", "peanut"),
        "tree-nut-allergy": ("Allergic to tree nuts", "tree_nut"),
        "no-eggs": ("Can't eat eggs", "egg"),
        "lactose-intolerant": ("Lactose intolerant", "dairy"),
        "coeliac": ("Coeliac, can't eat gluten", "gluten"),
        "shellfish-allergy": ("Allergic to shellfish", "shellfish"),
        "no-pork": ("Doesn't eat pork", "pork"),
        "no-onion-garlic": ("Can't eat onions or garlic", "allium"),
        "no-mushrooms": ("Can't eat mushrooms", "mushroom"),
        "no-fish": ("Doesn't eat fish", "fish"),
        "no-alcohol": ("No alcohol", "alcohol"),
        "sesame-allergy": ("Allergic to sesame", "sesame"),
    }.items()
}

# Simplified everyday recipes.
DISHES: dict[str, str] = {
    "Beef bourguignon": "beef, red wine, onion, mushrooms, bacon, carrots",
    "Margherita pizza": "wheat flour, tomatoes, mozzarella, basil, olive oil",
    "Pad thai": "rice noodles, shrimp, eggs, peanuts, fish sauce, garlic",
    "Caesar salad": "lettuce, parmesan, bread, anchovies, eggs, garlic",
    "Hummus with carrots": "chickpeas, tahini, lemon, garlic, olive oil, carrots",
    "Mushroom risotto": "rice, mushrooms, onion, parmesan, butter, white wine",
    "Quiche Lorraine": "eggs, cream, bacon, gruyère, shortcrust pastry",
    "Guacamole with corn chips": "avocado, tomatoes, onion, lime, coriander, corn tortillas",
    "Chicken satay": "chicken, peanut sauce, soy sauce, garlic",
    "Fish and chips": "cod, wheat flour, beer, potatoes",
    "Greek salad": "tomatoes, cucumber, feta, olives, onion, olive oil",
    "Vegetable curry": "potatoes, carrots, coconut milk, ginger, chilli, rice",
    "Spaghetti carbonara": "pasta, eggs, parmesan, bacon, black pepper",
    "Pesto pasta": "pasta, basil, pine nuts, parmesan, garlic, olive oil",
    "Mussels in white wine": "mussels, white wine, shallots, butter, parsley",
    "Salmon sushi": "rice, salmon, rice vinegar, seaweed, sesame seeds",
    "Crème brûlée": "cream, eggs, sugar, vanilla",
    "Chocolate mousse": "dark chocolate, eggs, cream, sugar",
    "Fruit salad": "strawberries, apples, oranges, mint",
    "Lentil soup": "lentils, carrots, onion, tomatoes, cumin",
    "Baklava": "filo pastry, walnuts, pistachios, honey, butter",
    "Tiramisu": "mascarpone, eggs, coffee, sugar, sponge fingers, rum",
    "Falafel wrap": "chickpeas, flatbread, tahini, lettuce, tomatoes, garlic",
    "Steak frites": "beef, potatoes, butter, salt",
    "Roast chicken with potatoes": "chicken, potatoes, garlic, rosemary, olive oil",
    "Tofu stir-fry": "tofu, peppers, soy sauce, ginger, sesame oil, rice",
    "Prawn cocktail": "shrimp, mayonnaise, lettuce, tomatoes, lemon",
    "Bouillabaisse": "cod, mussels, tomatoes, fennel, garlic, saffron",
    "Lamb tagine": "lamb, apricots, onion, couscous, cinnamon",
    "Ratatouille": "aubergine, courgette, peppers, tomatoes, onion, olive oil",
    "Pancakes with maple syrup": "wheat flour, milk, eggs, butter, maple syrup",
    "Tuna niçoise salad": "tuna, eggs, potatoes, green beans, olives, anchovies",
    "Peanut butter cookies": "peanuts, wheat flour, butter, sugar, eggs",
    "Almond cake": "almonds, eggs, sugar, butter",
    "Vegetable spring rolls": "rice paper, carrots, cabbage, mint, rice noodles",
    "Ham and cheese croissant": "puff pastry, ham, gruyère",
    "Chilli con carne": "beef, kidney beans, tomatoes, onion, chilli",
    "Mango sorbet": "mango, sugar, lemon",
    "Duck à l'orange": "duck, oranges, butter, orange liqueur",
    "Crab cakes": "crab, breadcrumbs, mayonnaise, lemon",
    "Sesame noodles": "noodles, sesame seeds, soy sauce, garlic, spring onion",
    "Honey-glazed carrots": "carrots, honey, butter, thyme",
    "Shakshuka": "eggs, tomatoes, peppers, onion, cumin",
    "Baked potato with beans": "potatoes, baked beans, chives",
    "Mushroom soup": "mushrooms, cream, onion, butter",
    "Rice and black beans": "rice, black beans, tomatoes, peppers, coriander",
    "Pork dumplings": "pork, wheat flour, cabbage, ginger, soy sauce, spring onion",
    "Scallops with pea purée": "scallops, peas, butter, mint",
    "Grilled corn on the cob": "corn, lime, chilli, salt",
    "Chorizo and bean stew": "chorizo, white beans, tomatoes, paprika",
}

HEADER = """\
# Generated by docs/make_dish_restrictions.py from its tables: edit the script
# and run it again rather than editing this file. Format: menu-analysis.yaml.
"""

DESCRIPTION = (
    "Does a dish suit a diner who cannot eat some foods? A labelled set for "
    "fixing by training (LoRA adapters) as well as by prompting. Provenance: "
    "written for this project; the dishes are simplified everyday recipes and "
    "every label follows one rule (docs/make_dish_restrictions.py): Avoid when "
    "an ingredient is something the diner cannot eat, else Likely good. No "
    "third-party data; released with promptkit under the project's terms. Split: "
    "the first word of each case id (train, validation or test), stratified by "
    "label, 70/15/15, shuffled with a fixed seed."
)

VERSIONS = """\
versions:
  - number: 1
    label: plain
    author: promptkit
    note: >-
      The question alone: the diner's restriction, the dish and its
      ingredients, then the answer line.
    generation:
      max_new_tokens: 4
      stop_sequences: ["\\n"]
    text: |-
      Can this diner eat the dish?
      Diner: {{ restriction }}
      Dish: {{ dish }} ({{ ingredients }})
      Answer (Avoid or Likely good):
  - number: 2
    label: rule-stated
    author: promptkit
    note: >-
      States the rule first: any ingredient the diner cannot eat means Avoid.
    generation:
      max_new_tokens: 4
      stop_sequences: ["\\n"]
    text: |-
      If any ingredient is something the diner cannot eat, answer Avoid; otherwise answer Likely good.
      Diner: {{ restriction }}
      Dish: {{ dish }} ({{ ingredients }})
      Answer (Avoid or Likely good):
"""


def slug(text: str) -> str:
    """Lower-case words joined by '-', accents and punctuation dropped."""
    plain = text.lower().translate(str.maketrans("àâçéèêëîïôûüñ", "aaceeeeiiouun"))
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")


def label(restriction: str, ingredients: str) -> str:
    """`Avoid` when an ingredient has a tag the restriction forbids, else `Likely good`."""
    forbidden = RESTRICTIONS[restriction][1]
    tags = set().union(*(TAGS.get(name.strip(), frozenset()) for name in ingredients.split(",")))
    return AVOID if tags & forbidden else LIKELY_GOOD


def cases() -> list[dict[str, object]]:
    """Every (restriction, dish) pair as a case with its split, in file order (split, then id)."""
    by_label: dict[str, list[tuple[str, str]]] = {AVOID: [], LIKELY_GOOD: []}
    for restriction in RESTRICTIONS:
        for dish, ingredients in DISHES.items():
            by_label[label(restriction, ingredients)].append((restriction, dish))
    rng = random.Random(SPLIT_SEED)
    chosen: list[dict[str, object]] = []
    for answer, pairs in by_label.items():
        rng.shuffle(pairs)
        start = 0
        for index, (split, share) in enumerate(SPLIT_SHARES):
            end = len(pairs) if index == len(SPLIT_SHARES) - 1 else start + round(share * len(pairs))
            for restriction, dish in pairs[start:end]:
                chosen.append(
                    {
                        "id": f"{split}-{restriction}-{slug(dish)}",
                        "split": split,
                        "restriction": RESTRICTIONS[restriction][0],
                        "dish": dish,
                        "ingredients": DISHES[dish],
                        "label": answer,
                    }
                )
            start = end
    order = {split: index for index, (split, _) in enumerate(SPLIT_SHARES)}
    return sorted(chosen, key=lambda case: (order[str(case["split"])], str(case["id"])))


def family_yaml() -> str:
    """The whole family file."""
    lines = [
        HEADER,
        "family: dish-restrictions\n",
        f"description: {json.dumps(DESCRIPTION)}\n",
        "candidate_labels:\n",
        f"  - {AVOID}\n",
        f"  - {LIKELY_GOOD}\n",
        VERSIONS,
        "cases:\n",
    ]
    for case in cases():
        lines += [
            f"  - id: {case['id']}\n",
            "    values:\n",
            *(f"      {name}: {json.dumps(case[name], ensure_ascii=False)}\n" for name in ("restriction", "dish", "ingredients")),
            f"    expect:\n      labels: [{json.dumps(case['label'])}]\n",
        ]
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Writes the file, or with `--check` says whether it is up to date (exit 1 if not)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs from the tables")
    args = parser.parse_args(argv)
    text = family_yaml()
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is out of date; run python docs/make_dish_restrictions.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
