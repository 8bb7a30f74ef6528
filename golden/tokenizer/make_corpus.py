#!/usr/bin/env python3
"""Writes corpus.json: the >= 1,000 strings the tokenizer oracle encodes.

Deterministic (fixed seed, no network): hand-picked strings for each hard case, then seeded
combinations of them. Categories: many scripts and languages, emoji and ZWJ sequences, combining
marks, NFC/NFD pairs, white-space runs, CRLF, digits, English contractions in mixed case, code,
URLs, special-token text, and random mixtures. Every string is valid UTF-8 (the tokenizer rejects
invalid input; that path is unit-tested separately).

Usage: python3 make_corpus.py [out=corpus.json]
"""
import json
import random
import sys
import unicodedata

SENTENCES = [
    # Latin scripts
    "The quick brown fox jumps over the lazy dog.",
    "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.",
    "Voix ambiguë d'un cœur qui, au zéphyr, préfère les jattes de kiwis.",
    "El pingüino Wenceslao hizo kilómetros bajo exhaustiva lluvia y frío.",
    "À noite, vovô Kowalsky vê o ímã cair no pé do pingüim queixoso.",
    "Pchnąć w tę łódź jeża lub ośm skrzyń fig.",
    "Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "Árvíztűrő tükörfúrógép.",
    "Şu çıplak genç, ağır bir iş yükünü hiç sevmez.",
    "Vår Gud är oss en väldig borg; Æ ø å på norsk.",
    "Việt Nam có nhiều món ăn ngon như phở và bánh mì.",
    "Ìyá mi ń ṣiṣẹ́ ní ọjà.",
    # Cyrillic, Greek, Armenian, Georgian
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Щастям б'єш жук їх глицю в фон й ґедзь пріч.",
    "Γαζέες καὶ μυρτιὲς δὲν θὰ βρῶ πιὰ στὸ χρυσαφὶ ξέφωτο.",
    "Բարեւ աշխարհ",
    "გამარჯობა მსოფლიო",
    # Middle East, South Asia
    "مرحبا بالعالم، كيف حالك اليوم؟",
    "שלום עולם, מה שלומך?",
    "سلام دنیا، حال شما چطور است؟",
    "नमस्ते दुनिया, आप कैसे हैं?",
    "হ্যালো বিশ্ব, আপনি কেমন আছেন?",
    "வணக்கம் உலகம்",
    "నమస్కారం ప్రపంచం",
    "ಹಲೋ ವರ್ಲ್ಡ್",
    "ഹലോ വേൾഡ്",
    "ਸਤਿ ਸ੍ਰੀ ਅਕਾਲ ਦੁਨੀਆ",
    "હેલો વર્લ્ડ",
    "ආයුබෝවන් ලෝකය",
    # East and South-East Asia
    "你好，世界！今天天气很好，我们去公园散步吧。",
    "我想在那里吃饭，然后去看电影。",
    "繁體中文測試：臺灣、香港、澳門。",
    "こんにちは世界。カタカナとひらがなと漢字を混ぜます。",
    "東京都渋谷区で会議があります。",
    "안녕하세요 세계, 오늘 날씨가 좋네요.",
    "สวัสดีชาวโลก วันนี้อากาศดีมาก",
    "ສະບາຍດີ ໂລກ",
    "ជំរាបសួរ ពិភពលោក",
    "မင်္ဂလာပါ ကမ္ဘာလောက",
    "ሰላም ለዓለም",
    "ᐊᐃᖓᐃ ᓄᓇ",
    "ꦲꦤꦕꦫꦏ",
    "𓀀𓀁𓀂 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕋𝕖𝕩𝕥",
    "Ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ　１２３",
]

EMOJI = [
    "🚀", "😀", "👍🏽", "❤️", "✅", "🇺🇸🇫🇷🇯🇵", "👨‍👩‍👧‍👦", "👩🏽‍💻", "🏳️‍🌈", "🧑‍🤝‍🧑",
    "😶‍🌫️", "❤️‍🔥", "👁️‍🗨️", "🫠", "🦀🐍", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "1️⃣", "#️⃣", "©️®️™️", "👋🏻👋🏼👋🏽👋🏾👋🏿",
]

COMBINING = [
    "e\u0301", "a\u0300\u0323", "n\u0303", "o\u0308\u0304", "Z\u0351\u036b\u0343\u036a\u0302\u036b",
    "\u1100\u1161\u11a8", "\u0915\u094d\u0937", "q\u0307\u0323", "\u0301leading mark", "x\u20dd",
]

NFC_NFD_WORDS = ["café", "naïve", "Ångström", "résumé", "Ελληνικά", "Việt", "한국어", "ḱṓṑ", "Åmål", "ﬁne"]

WHITESPACE = [
    " ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n", "\r\n\r\n", "\r", " \n ", "\u00a0", "\u3000",
    "\u2003", "\u2028", "\u0085", "\u180e", "\u200b", "\f", "\v", "    \n    ", " \t \n \r\n ",
]

CONTRACTIONS = [
    "I'm", "you're", "he's", "she'd", "we've", "they'll", "don't", "DON'T", "It'S", "I'M", "We'Ve",
    "THEY'LL", "y'all", "'twas", "o'clock", "rock'n'roll", "isn’t", "'S", "'ſ", "'ll've", "Ma'am'd",
]

NUMBERS = [
    "3", "33", "333", "3333", "33333", "1234567890", "3.14159", "-42", "1,000,000", "1e-9", "0x1F",
    "٣٤٥", "१२३", "Ⅻ", "½", "²³", "০১২", "2024-06-01", "12:30:45", "+1 (555) 123-4567", "v1.2.3",
]

CODE = [
    "int main(int argc, char** argv) { return 0; }",
    "def f(x):\n    return x ** 2\n",
    "for (size_t i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}",
    "const auto& [key, value] = *it;",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;",
    "<div class=\"x\">&lt;tag&gt; &amp; text</div>",
    "{\"key\": [1, 2.5, null, true], \"nested\": {\"a\": \"b\"}}",
    "#!/bin/bash\nset -euo pipefail\necho \"$HOME\" | tr a-z A-Z",
    "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }",
    "x = [i for i in range(10) if i % 2 == 0]  # comment",
    "    if (ptr != nullptr && ptr->next) {",
    "a+=b;c-=d;e*=f;g/=h;i%=j;k<<=1;l>>=2;",
    "```python\nprint('hi')\n```",
    "$ git commit -m \"fix: handle\\r\\n line endings\"",
    "regex: ^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$",
]

URLS = [
    "https://example.com/path/to/page?query=1&other=two#fragment",
    "http://localhost:8080/api/v1/items/42",
    "ftp://files.example.org/pub/README.txt",
    "mailto:someone@example.com",
    "https://例子.测试/路径?参数=值",
    "https://en.wikipedia.org/wiki/Unicode_(disambiguation)",
    "www.example.co.uk/index.html",
    "file:///C:/Program%20Files/app.exe",
]

SPECIAL = [
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>", "text<|endoftext|>more", "<|im_start|><|im_end|>", "<|im_start", "im_end|>",
    "<tool_call>{\"name\": \"f\"}</tool_call>", "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>",
    "<s>", "</s>", "<unk>", "<s> Hello </s>", "<|user|>\nHello<|end|>\n<|assistant|>\n", "<|system|> sys <|end|>",
    "<|end|>   trailing spaces", "<|user|>\u3000ideographic space", "<0x41>", "<0x0A> and <0xZZ>", "[PAD151700]",
    "<|endoftext|><|endoftext|>", "a<|im_end|>b", "<|placeholder1|>x", "< |im_start| >",
]

MISC = [
    "", " ", "a", "A", "ß", "ẞ", "İstanbul", "ǅ", "ﬃ", "K", "Ω", "Å", "ſ", "µ", "\u0000", "a\u0000b",
    "\u0001\u0002\u001f\u007f", "\u00ad soft hyphen", "\ufeffBOM", "\ufffd", "\uffff", "\U0010ffff", "\ue000",
    "Hello world", " Hello world", "Hello World", " Hello World!", "Hello, world!", "!!!!!!", "...", "…",
    "— – -", "“quoted” ‘single’ «guillemets»", "   Hello", "\n =", "' era", "(parenthesized)",
    "ALLCAPS SENTENCE HERE", "MiXeD cAsE wOrDs", "snake_case_identifier", "camelCaseIdentifier",
    "kebab-case-identifier", "a" * 300, " " * 200, "\n" * 50, "ab" * 150, "😀" * 40, "中" * 120,
]


def nfd(s):
    return unicodedata.normalize("NFD", s)


def build():
    rng = random.Random(20261126)
    corpus = []
    corpus += SENTENCES + EMOJI + COMBINING + WHITESPACE + CONTRACTIONS + NUMBERS + CODE + URLS + SPECIAL + MISC
    # NFC/NFD pairs: both spellings, alone and in a sentence.
    for word in NFC_NFD_WORDS:
        for form in ("NFC", "NFD", "NFKC", "NFKD"):
            corpus.append(unicodedata.normalize(form, word))
        corpus.append("The word " + nfd(word) + " is decomposed.")
    # Emoji in text, with and without spaces.
    for e in EMOJI:
        corpus.append("I love " + e + " so much" + e + "!")
        corpus.append(e + e + " " + e)
    # Combining marks on many bases.
    for mark in ("\u0301", "\u0308", "\u0323", "\u0338", "\u0663"):
        corpus.append("".join(c + mark for c in "aeiouAEIOU"))
    # White-space runs around words, CRLF files.
    for ws in WHITESPACE:
        corpus.append("word" + ws + "word")
        corpus.append(ws + "lead and trail" + ws)
        corpus.append(ws * 3 + "x")
    corpus.append("line one\r\nline two\r\n\r\nline four\r\n")
    corpus.append("mixed\nendings\r\nhere\rand\n\r\nthere")
    # Digits in context.
    for number in NUMBERS:
        corpus.append("The value is " + number + ".")
        corpus.append(number + number)
        corpus.append("x" + number + "y")
    # Contractions in sentences and mixed case.
    for contraction in CONTRACTIONS:
        corpus.append(contraction + " going " + contraction.upper() + " " + contraction.swapcase())
    # Sentences with variations.
    for sentence in SENTENCES:
        corpus.append(" " + sentence)
        corpus.append(sentence.upper())
        corpus.append(sentence + "\n" + sentence)
        corpus.append(nfd(sentence))
    for code in CODE:
        corpus.append(code.replace("\n", "\r\n"))
        corpus.append("    " + code.replace("\n", "\n    "))
    for url in URLS:
        corpus.append("See " + url + " for details.")
        corpus.append("<" + url + ">")
    for special in SPECIAL:
        corpus.append(" " + special + " ")
        corpus.append("prefix " + special + "\nsuffix")
    # Seeded random mixtures of everything above.
    pools = [SENTENCES, EMOJI, COMBINING, WHITESPACE, CONTRACTIONS, NUMBERS, CODE, URLS, SPECIAL, MISC[:60]]
    while len(corpus) < 1300:
        parts = []
        for _ in range(rng.randint(2, 6)):
            pool = rng.choice(pools)
            part = rng.choice(pool)
            if rng.random() < 0.3:
                part = part[: rng.randint(0, len(part))]
            parts.append(part)
        joiner = rng.choice(["", " ", "\n", "  ", "\t", "\r\n"])
        corpus.append(joiner.join(parts))
    # Random code points from many blocks.
    blocks = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF), (0x900, 0x97F),
              (0xE00, 0xE7F), (0x1100, 0x11FF), (0x3040, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3),
              (0x1F300, 0x1F6FF), (0x1F900, 0x1F9FF), (0x2000, 0x206F), (0x300, 0x36F), (0x10000, 0x1007F)]
    for _ in range(200):
        chars = []
        for _ in range(rng.randint(1, 25)):
            low, high = rng.choice(blocks)
            cp = rng.randint(low, high)
            if 0xD800 <= cp <= 0xDFFF:
                continue
            chars.append(chr(cp))
        corpus.append("".join(chars))
    # Keep order, drop exact duplicates.
    seen = set()
    unique = []
    for text in corpus:
        if text not in seen:
            seen.add(text)
            unique.append(text)
    return unique


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "corpus.json"
    corpus = build()
    assert len(corpus) >= 1000, len(corpus)
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"format_version": 1, "description": "tokenizer oracle corpus (make_corpus.py)", "texts": corpus},
                  f, ensure_ascii=True, indent=0)
        f.write("\n")
    print(f"{out}: {len(corpus)} strings")


if __name__ == "__main__":
    main()
