//! sys.rs and engine/include/llama_worker.h declare the same functions (names, parameter and
//! return types), structs (fields, types, array sizes), enum values and constants. The header is
//! parsed here; each C type is mapped to the Rust type sys.rs must use.
use std::collections::BTreeMap;

const HEADER: &str = include_str!("../../../engine/include/llama_worker.h");
const SYS: &str = include_str!("../src/sys.rs");

fn strip_c_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        match rest[start..].find("*/") {
            Some(end) => rest = &rest[start + end + 2..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    out.lines().map(|line| line.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A C declaration "const char** out_text" -> ("out_text", "*mut *const c_char").
fn c_declaration_to_rust(declaration: &str) -> (String, String) {
    let declaration = squash(declaration);
    let name_start = declaration.rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
    let name = declaration[name_start..].to_string();
    (name, c_type_to_rust(&declaration[..name_start]))
}

fn c_type_to_rust(c_type: &str) -> String {
    let pointers = c_type.matches('*').count();
    let words: Vec<&str> = c_type.split(|c: char| c == '*' || c.is_whitespace()).filter(|w| !w.is_empty()).collect();
    let is_const = words.contains(&"const");
    let base = words.iter().find(|w| **w != "const").expect("a type name");
    let base = match *base {
        "int32_t" | "int" => "i32",
        "int64_t" => "i64",
        "uint64_t" => "u64",
        "size_t" => "usize",
        "float" => "f32",
        "double" => "f64",
        "char" => "c_char",
        "void" => "()",
        other => other,
    };
    if pointers == 0 {
        return base.to_string();
    }
    let mut rust = "*mut ".repeat(pointers - 1);
    rust.push_str(if is_const { "*const " } else { "*mut " });
    rust.push_str(base);
    rust
}

type Functions = BTreeMap<String, (Vec<(String, String)>, String)>;
type Structs = BTreeMap<String, Vec<(String, String)>>;

fn header_functions(header: &str) -> Functions {
    let code: String = header
        .lines()
        .filter(|line| !line.trim_start().starts_with('#') && !line.contains("extern \"C\""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut functions = Functions::new();
    for statement in code.split(';') {
        let statement = squash(statement);
        let open = match statement.find('(') {
            Some(open) => open,
            None => continue,
        };
        if !statement.ends_with(')') {
            continue;
        }
        let head = statement[..open].rsplit(|c| c == '}' || c == '{').next().unwrap().trim();
        let (name, return_type) = c_declaration_to_rust(head);
        if !name.starts_with("cuda_") {
            continue;
        }
        let inner = &statement[open + 1..statement.len() - 1];
        let parameters = if inner.trim() == "void" {
            Vec::new()
        } else {
            inner.split(',').map(c_declaration_to_rust).collect()
        };
        functions.insert(name, (parameters, return_type));
    }
    functions
}

fn header_structs(header: &str) -> Structs {
    let mut structs = Structs::new();
    let mut rest = header;
    while let Some(start) = rest.find("typedef struct") {
        rest = &rest[start + "typedef struct".len()..];
        let open = rest.find('{');
        let semicolon = rest.find(';').unwrap();
        let open = match open {
            Some(open) if open < semicolon => open,
            _ => continue, // an opaque handle: typedef struct cuda_model cuda_model;
        };
        let close = rest.find('}').unwrap();
        let name = rest[..open].trim().to_string();
        let mut fields = Vec::new();
        for field in rest[open + 1..close].split(';').map(squash).filter(|f| !f.is_empty()) {
            match field.find('[') {
                Some(bracket) => {
                    let (field_name, element) = c_declaration_to_rust(&field[..bracket]);
                    let size = field[bracket + 1..field.len() - 1].trim().to_string();
                    fields.push((field_name, format!("[{element}; {size}]")));
                }
                None => fields.push(c_declaration_to_rust(&field)),
            }
        }
        structs.insert(name, fields);
        rest = &rest[close..];
    }
    structs
}

/// Enum values and #define constants: name -> value.
fn header_constants(header: &str) -> BTreeMap<String, i64> {
    let mut constants = BTreeMap::new();
    for line in header.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() >= 3 && words[0] == "#define" && words[1].starts_with("LW_") {
            if let Ok(value) = words[2].trim_matches(|c| c == '(' || c == ')').parse::<i64>() {
                constants.insert(words[1].to_string(), value);
            }
        }
    }
    let mut rest = header;
    while let Some(start) = rest.find("typedef enum") {
        rest = &rest[start..];
        let open = rest.find('{').unwrap();
        let close = rest.find('}').unwrap();
        for item in rest[open + 1..close].split(',') {
            let item = squash(item);
            if let Some((name, value)) = item.split_once('=') {
                constants.insert(name.trim().to_string(), value.trim().parse().expect("an enum value"));
            }
        }
        rest = &rest[close..];
    }
    constants
}

fn header_enum_types(header: &str) -> Vec<String> {
    let mut types = Vec::new();
    let mut rest = header;
    while let Some(start) = rest.find("typedef enum") {
        rest = &rest[start..];
        let close = rest.find('}').unwrap();
        let semicolon = rest[close..].find(';').unwrap();
        types.push(rest[close + 1..close + semicolon].trim().to_string());
        rest = &rest[close..];
    }
    types
}

fn rust_functions(sys: &str) -> Functions {
    let mut functions = Functions::new();
    let block_start = sys.find("extern \"C\" {").expect("an extern block");
    let block = &sys[block_start..];
    for declaration in block.split(';') {
        let declaration = squash(declaration).replace("( ", "(").replace(", )", ")").replace(",)", ")");
        let start = match declaration.find("pub fn ") {
            Some(start) => start + "pub fn ".len(),
            None => continue,
        };
        let open = declaration.find('(').unwrap();
        let close = declaration.rfind(')').unwrap();
        let name = declaration[start..open].trim().to_string();
        let parameters = declaration[open + 1..close]
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (name, ty) = p.split_once(':').unwrap();
                (name.trim().to_string(), ty.trim().to_string())
            })
            .collect();
        let return_type = declaration[close + 1..].trim().strip_prefix("->").map_or("()".to_string(), |t| t.trim().to_string());
        functions.insert(name, (parameters, return_type));
    }
    functions
}

fn rust_structs(sys: &str) -> Structs {
    let mut structs = Structs::new();
    let mut rest = sys;
    while let Some(start) = rest.find("pub struct ") {
        rest = &rest[start + "pub struct ".len()..];
        let open = rest.find('{').unwrap();
        let close = rest.find('}').unwrap();
        let name = rest[..open].trim().to_string();
        let fields = rest[open + 1..close]
            .split(',')
            .map(squash)
            .filter(|f| f.starts_with("pub "))
            .map(|f| {
                let (name, ty) = f["pub ".len()..].split_once(':').unwrap();
                (name.trim().to_string(), ty.trim().to_string())
            })
            .collect::<Vec<_>>();
        if !fields.is_empty() {
            structs.insert(name, fields);
        }
        rest = &rest[close..];
    }
    structs
}

fn rust_constants(sys: &str) -> BTreeMap<String, i64> {
    let mut constants = BTreeMap::new();
    for line in sys.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("pub const ") {
            let (name, value) = rest.split_once(':').unwrap();
            let value = value.split_once('=').unwrap().1.trim().trim_end_matches(';');
            constants.insert(name.trim().to_string(), value.parse().expect("an integer constant"));
        }
    }
    constants
}

#[test]
fn functions_match_the_header() {
    let header = header_functions(&strip_c_comments(HEADER));
    assert!(header.len() >= 18, "the header parser found only {} functions: {:?}", header.len(), header.keys());
    assert_eq!(rust_functions(SYS), header);
}

#[test]
fn structs_match_the_header() {
    let header = header_structs(&strip_c_comments(HEADER));
    assert_eq!(header.len(), 5, "the header parser found {:?}", header.keys());
    assert_eq!(rust_structs(SYS), header);
}

#[test]
fn constants_and_enum_values_match_the_header() {
    let header = header_constants(&strip_c_comments(HEADER));
    assert!(header.contains_key("LW_STATUS_INTERNAL") && header.contains_key("LW_DEVICE_CPU"), "{header:?}");
    assert_eq!(rust_constants(SYS), header);
}

#[test]
fn every_enum_type_is_an_i32_alias() {
    let types = header_enum_types(&strip_c_comments(HEADER));
    assert_eq!(types, ["lw_status", "lw_backend", "lw_stop_reason"]);
    for name in types {
        assert!(SYS.contains(&format!("pub type {name} = i32;")), "sys.rs lacks `pub type {name} = i32;`");
    }
}

#[test]
fn the_library_reports_the_headers_api_version() {
    assert_eq!(llama_worker::api_version(), llama_worker::sys::LW_API_VERSION);
}
