/*
 * Tests of tmpl: the rendered bytes of every construct, every load error with its exact
 * message and position, the depth limits, and allocation failures while loading and
 * rendering.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "arena.h"
#include "buf.h"
#include "err.h"
#include "tmpl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static json_t *parse(const char *json)
{
    json_error_t jerr;
    json_t *v = json_loads(json, JSON_DECODE_ANY, &jerr);
    if (!v)
        fail_msg("bad test JSON %s: %s", json, jerr.text);
    return v;
}

/* Renders template name of set with the JSON context and compares the output exactly. */
static void expect_set(const struct tmpl_set *set, const char *name, const char *json,
                       const char *want)
{
    json_t *ctx = json ? parse(json) : NULL;
    struct arena *a = arena_new();
    assert_non_null(a);
    struct buf b;
    buf_init(&b, a);
    struct err e = {0};
    int rc = tmpl_render(set, name, ctx, &b, &e);
    if (rc != 0)
        fail_msg("render failed: %s", e.msg);
    assert_int_equal(b.len, strlen(want));
    assert_string_equal(b.data ? b.data : "", want);
    arena_free(a);
    json_decref(ctx);
}

static struct tmpl_set *one(const char *text)
{
    struct tmpl_set *set = tmpl_set_new();
    assert_non_null(set);
    struct err e = {0};
    if (tmpl_set_add(set, "t", text, strlen(text), &e) != 0)
        fail_msg("load failed: %d:%d: %s", e.line, e.col, e.msg);
    return set;
}

static void expect(const char *text, const char *json, const char *want)
{
    struct tmpl_set *set = one(text);
    expect_set(set, "t", json, want);
    tmpl_set_free(set);
}

static void expect_load_error(const char *text, int line, int col, const char *msg)
{
    struct tmpl_set *set = tmpl_set_new();
    assert_non_null(set);
    struct err e = {0};
    assert_int_equal(tmpl_set_add(set, "t", text, strlen(text), &e), -1);
    assert_string_equal(e.file, "t");
    assert_string_equal(e.msg, msg);
    assert_int_equal(e.line, line);
    assert_int_equal(e.col, col);
    assert_int_equal(tmpl_exists(set, "t"), 0);
    tmpl_set_free(set);
}

static void test_variables(void **state)
{
    (void)state;
    expect("Hello, {{name}}!", "{\"name\": \"World\"}", "Hello, World!");
    expect("[{{ name }}][{{\tname\n}}]", "{\"name\": \"x\"}", "[x][x]");
    expect("a{{missing}}b", "{\"name\": \"x\"}", "ab");
    expect("[{{n}}][{{f}}][{{t}}]", "{\"n\": null, \"f\": false, \"t\": true}", "[][][true]");
    expect("[{{o}}][{{a}}]", "{\"o\": {\"k\": 1}, \"a\": [1, 2]}", "[][]");
    expect("no tags at all", "{}", "no tags at all");
    expect("", "{}", "");
    expect("{{name}}", NULL, "");
    expect("{{.}}", "\"top\"", "top");
}

static void test_escaping(void **state)
{
    (void)state;
    expect("{{v}}", "{\"v\": \"& < > \\\" '\"}", "&amp; &lt; &gt; &quot; &#39;");
    expect("<input value=\"{{v}}\">", "{\"v\": \"\\\"><script>alert('x')</script>\"}",
           "<input value=\"&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;\">");
    expect("<a title='{{v}}'>", "{\"v\": \"it's\"}", "<a title='it&#39;s'>");
    expect("{{v}}", "{\"v\": \"&amp;\"}", "&amp;amp;");
    /* Template text is the author's: it is never escaped. */
    expect("<b>&amp;</b>{{v}}", "{\"v\": \"<b>\"}", "<b>&amp;</b>&lt;b&gt;");
    expect("{{#items}}{{.}}{{/items}}", "{\"items\": [\"<\", \">\"]}", "&lt;&gt;");
}

static void test_numbers(void **state)
{
    (void)state;
    expect("{{a}} {{b}} {{c}} {{d}}", "{\"a\": 42, \"b\": -7, \"c\": 0, \"d\": 9007199254740993}",
           "42 -7 0 9007199254740993");
    expect("{{a}} {{b}} {{c}} {{d}} {{e}}",
           "{\"a\": 2.5, \"b\": 0.1, \"c\": 1.0, \"d\": 1e20, \"e\": -0.000125}",
           "2.5 0.1 1 1e+20 -0.000125");
    json_t *ctx = json_pack("{s:f}", "third", 1.0 / 3.0);
    assert_non_null(ctx);
    struct tmpl_set *set = one("{{third}}");
    struct arena *a = arena_new();
    struct buf b;
    buf_init(&b, a);
    struct err e = {0};
    assert_int_equal(tmpl_render(set, "t", ctx, &b, &e), 0);
    assert_string_equal(b.data, "0.333333333333333");
    arena_free(a);
    tmpl_set_free(set);
    json_decref(ctx);
}

static void test_dotted(void **state)
{
    (void)state;
    const char *ctx = "{\"a\": {\"b\": {\"c\": \"deep\"}, \"s\": \"str\"}, \"x\": 1}";
    expect("{{a.b.c}}", ctx, "deep");
    expect("[{{a.b.missing}}][{{a.missing.c}}][{{nothing.b}}]", ctx, "[][][]");
    expect("[{{a.s.c}}][{{x.y}}]", ctx, "[][]");
    expect("{{#a.b}}{{c}}{{/a.b}}", ctx, "deep");
    /* The first part is found from the inside out; the rest only inside what it found. */
    expect("{{#inner}}[{{a.b}}][{{a.z}}]{{/inner}}",
           "{\"a\": {\"b\": \"outer\", \"z\": \"zz\"}, \"inner\": {\"a\": {\"b\": \"inner\"}}}",
           "[inner][]");
}

static void test_context_stack(void **state)
{
    (void)state;
    expect("{{#person}}{{name}} of {{company}}{{/person}}",
           "{\"company\": \"ACME\", \"person\": {\"name\": \"Ann\"}}", "Ann of ACME");
    expect("{{#a}}{{#b}}{{#c}}{{x}}{{y}}{{z}}{{/c}}{{/b}}{{/a}}",
           "{\"x\": 1, \"a\": {\"y\": 2, \"b\": {\"c\": {\"z\": 3, \"x\": 4}}}}", "423");
    expect("{{name}}{{#person}}{{name}}{{/person}}{{name}}",
           "{\"name\": \"out\", \"person\": {\"name\": \"in\"}}", "outinout");
    expect("{{#person}}[{{.}}]{{/person}}", "{\"person\": {\"name\": \"Ann\"}}", "[]");
}

static void test_arrays(void **state)
{
    (void)state;
    expect("<ul>{{#items}}<li>{{title}}</li>{{/items}}</ul>",
           "{\"items\": [{\"title\": \"one\"}, {\"title\": \"two\"}, {}]}",
           "<ul><li>one</li><li>two</li><li></li></ul>");
    expect("{{#tags}}[{{.}}]{{/tags}}", "{\"tags\": [\"a\", 2, 2.5, true, false, null, \"\"]}",
           "[a][2][2.5][true][][][]");
    expect("{{#rows}}({{#.}}{{.}}{{/.}}){{/rows}}", "{\"rows\": [[1, 2], [3], []]}", "(12)(3)()");
    expect("{{#items}}{{n}}{{sep}}{{/items}}",
           "{\"sep\": \",\", \"items\": [{\"n\": 1}, {\"n\": 2, \"sep\": \";\"}]}", "1,2;");
}

static void test_inverted(void **state)
{
    (void)state;
    const char *t = "{{#v}}yes{{/v}}{{^v}}no{{/v}}";
    expect(t, "{\"v\": []}", "no");
    expect(t, "{\"v\": false}", "no");
    expect(t, "{}", "no");
    expect(t, "{\"v\": [1]}", "yes");
    expect("{{^v}}[{{.}}]{{/v}}", "{\"v\": null}", "[]");
    expect("{{^items}}none{{/items}}{{#items}}{{.}}{{/items}}", "{\"items\": [\"x\"]}", "x");
}

static void test_truthiness(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        const char *want;
    } table[] = {
        {"true", "T"},        {"false", "F"}, {"null", "F"},       {"\"\"", "F"}, {"\"0\"", "T"},
        {"\"false\"", "T"},   {"\" \"", "T"}, {"0", "F"},          {"0.0", "F"},  {"-0.0", "F"},
        {"1", "T"},           {"-1", "T"},    {"0.5", "T"},        {"[]", "F"},   {"[false]", "T"},
        {"[1, 2, 3]", "TTT"}, {"{}", "F"},    {"{\"a\": 0}", "T"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        char json[64];
        snprintf(json, sizeof json, "{\"v\": %s}", table[i].value);
        expect("{{#v}}T{{/v}}{{^v}}F{{/v}}", json, table[i].want);
    }
    expect("{{#v}}T{{/v}}{{^v}}F{{/v}}", "{}", "F");
}

static void test_scalar_section(void **state)
{
    (void)state;
    expect("{{#name}}<b>{{.}}</b>{{/name}}", "{\"name\": \"Ann & Bob\"}", "<b>Ann &amp; Bob</b>");
    expect("{{#n}}{{.}} items{{/n}}", "{\"n\": 3}", "3 items");
    expect("{{#flag}}{{other}}{{/flag}}", "{\"flag\": true, \"other\": \"seen\"}", "seen");
}

static void test_comments_and_braces(void **state)
{
    (void)state;
    expect("a{{! a comment {with} braces }}b", "{}", "ab");
    expect("a{{!}}b{{ ! spaced }}c", "{}", "abc");
    expect("a { b } c }} d { e", "{}", "a { b } c }} d { e");
    expect("{ {{x}} }", "{\"x\": 1}", "{ 1 }");
    expect("x {", "{}", "x {");
    expect("}}{{x}}}", "{\"x\": 1}", "}}1}");
    expect("  {{#v}}\n  line\n  {{/v}}\n", "{\"v\": true}", "  \n  line\n  \n");
}

static void test_cyrillic(void **state)
{
    (void)state;
    expect("<p>Анкета: {{title}} — ёЁ «{{#tags}}{{.}};{{/tags}}»</p>",
           "{\"title\": \"Наставничество «Старт» & ко\", \"tags\": [\"школа\", \"вуз\"]}",
           "<p>Анкета: Наставничество «Старт» &amp; ко — ёЁ «школа;вуз;»</p>");
    /* Columns count characters, not bytes. */
    expect_load_error("Анкета {{#x}}", 1, 8, "section \"x\" opened here is never closed");
}

static void test_partials(void **state)
{
    (void)state;
    struct tmpl_set *set = tmpl_set_new();
    assert_non_null(set);
    struct err e = {0};
    const char *page = "<h1>{{>title}}</h1><ul>{{#items}}{{> item }}{{/items}}</ul>";
    const char *title = "{{heading}}";
    const char *item = "<li>{{name}} ({{heading}})</li>";
    /* page names item before item is added: check passes once it is. */
    assert_int_equal(tmpl_set_add(set, "page", page, strlen(page), &e), 0);
    assert_int_equal(tmpl_set_check(set, &e), -1);
    assert_int_equal(tmpl_set_add(set, "title", title, strlen(title), &e), 0);
    assert_int_equal(tmpl_set_add(set, "item", item, strlen(item), &e), 0);
    assert_int_equal(tmpl_set_check(set, &e), 0);
    assert_int_equal(tmpl_exists(set, "item"), 1);
    assert_int_equal(tmpl_exists(set, "ite"), 0);
    expect_set(set, "page",
               "{\"heading\": \"Q&A\", \"items\": [{\"name\": \"a\"}, {\"name\": \"b\", "
               "\"heading\": \"own\"}]}",
               "<h1>Q&amp;A</h1><ul><li>a (Q&amp;A)</li><li>b (own)</li></ul>");
    expect_set(set, "item", "{\"name\": \"alone\"}", "<li>alone ()</li>");
    tmpl_set_free(set);
}

static void test_recursive_partial(void **state)
{
    (void)state;
    struct tmpl_set *set = tmpl_set_new();
    assert_non_null(set);
    struct err e = {0};
    const char *tree = "<ul>{{#children}}<li>{{name}}{{>tree}}</li>{{/children}}</ul>";
    assert_int_equal(tmpl_set_add(set, "tree", tree, strlen(tree), &e), 0);
    assert_int_equal(tmpl_set_check(set, &e), 0);
    expect_set(set, "tree",
               "{\"children\": [{\"name\": \"a\", \"children\": [{\"name\": \"b\", "
               "\"children\": []}]}, {\"name\": \"c\", \"children\": []}]}",
               "<ul><li>a<ul><li>b<ul></ul></li></ul></li><li>c<ul></ul></li></ul>");
    tmpl_set_free(set);
}

static void test_partial_loop(void **state)
{
    (void)state;
    struct tmpl_set *set = tmpl_set_new();
    assert_non_null(set);
    struct err e = {0};
    assert_int_equal(tmpl_set_add(set, "a", "x\n {{>b}}", 9, &e), 0);
    assert_int_equal(tmpl_set_add(set, "b", "{{>a}}", 6, &e), 0);
    assert_int_equal(tmpl_set_check(set, &e), 0);
    struct arena *ar = arena_new();
    struct buf b;
    buf_init(&b, ar);
    assert_int_equal(tmpl_render(set, "a", NULL, &b, &e), -1);
    /* a includes b 8 times and b includes a 8 times before the 17th inclusion is refused. */
    assert_string_equal(e.msg, "partials nested deeper than 16: does \"b\" include itself?");
    assert_string_equal(e.file, "a");
    assert_int_equal(e.line, 2);
    assert_int_equal(e.col, 2);
    arena_free(ar);
    tmpl_set_free(set);
}

static void test_render_errors(void **state)
{
    (void)state;
    struct tmpl_set *set = one("{{>nowhere}}");
    struct arena *a = arena_new();
    struct buf b;
    buf_init(&b, a);
    struct err e = {0};
    assert_int_equal(tmpl_render(set, "nope", NULL, &b, &e), -1);
    assert_string_equal(e.msg, "unknown template \"nope\"");
    /* A set used without tmpl_set_check still fails cleanly on the missing partial. */
    assert_int_equal(tmpl_render(set, "t", NULL, &b, &e), -1);
    assert_string_equal(e.msg, "partial \"nowhere\" is not a template of the set");
    assert_int_equal(e.line, 1);
    assert_int_equal(e.col, 1);
    /* A partial's name alone does not make a template. */
    assert_int_equal(tmpl_exists(set, "nowhere"), 0);
    assert_int_equal(tmpl_render(set, "nowhere", NULL, &b, &e), -1);
    assert_string_equal(e.msg, "unknown template \"nowhere\"");
    arena_free(a);
    tmpl_set_free(set);
}

static void test_load_errors(void **state)
{
    (void)state;
    expect_load_error("line one\n  {{#items}}\nx", 2, 3,
                      "section \"items\" opened here is never closed");
    expect_load_error("{{#a}}{{#b}}{{/b}}", 1, 1, "section \"a\" opened here is never closed");
    expect_load_error("{{#a}}\n{{^b}}\n {{/a}}", 3, 2, "\"{{/a}}\" closes \"b\" opened at line 2");
    expect_load_error("x {{/a}}", 1, 3, "\"{{/a}}\" closes no open section");
    expect_load_error("{{#a}}{{/a}}{{/a}}", 1, 13, "\"{{/a}}\" closes no open section");
    expect_load_error("ab\ncd {{name", 2, 4, "tag is not closed by \"}}\"");
    expect_load_error("{{a }b\n{{b}}", 1, 1, "tag is not closed by \"}}\"");
    expect_load_error("x{{}}", 1, 2, "empty tag name");
    expect_load_error("x{{ \t}}", 1, 2, "empty tag name");
    expect_load_error("{{#a}}{{#}}", 1, 7, "empty tag name");
    expect_load_error("{{> }}", 1, 1, "empty tag name");
    expect_load_error("{{#a}}{{/ }}", 1, 7, "empty tag name");
    expect_load_error("x {{{raw}}}", 1, 3,
                      "\"{{{\" is not supported: there is no raw output, every value is "
                      "HTML-escaped");
    expect_load_error("\n\n  {{&x}}", 3, 3,
                      "unknown tag \"{{&x}}\": the tags are {{name}} {{#name}} {{^name}} "
                      "{{/name}} {{>name}} {{!comment}}");
    expect_load_error("{{=<% %>=}}", 1, 1,
                      "unknown tag \"{{=<% %>=}}\": the tags are {{name}} {{#name}} "
                      "{{^name}} {{/name}} {{>name}} {{!comment}}");
    expect_load_error("{{a b}}", 1, 1,
                      "invalid name \"a b\": a name is \".\" or letters, digits, \"_\" and \"-\" "
                      "in parts joined by \".\"");
    expect_load_error("{{#a..b}}", 1, 1,
                      "invalid name \"a..b\": a name is \".\" or letters, digits, \"_\" and "
                      "\"-\" in parts joined by \".\"");
    expect_load_error("x{{a.}}", 1, 2,
                      "invalid name \"a.\": a name is \".\" or letters, digits, \"_\" and \"-\" "
                      "in parts joined by \".\"");
    expect_load_error("{{>a/b}}", 1, 1,
                      "invalid partial name \"a/b\": a template name is letters, digits, \"_\", "
                      "\"-\" and \".\"");
}

static void test_duplicate_name(void **state)
{
    (void)state;
    struct tmpl_set *set = one("first");
    struct err e = {0};
    assert_int_equal(tmpl_set_add(set, "t", "second", 6, &e), -1);
    assert_string_equal(e.msg, "template \"t\" is already in the set");
    assert_int_equal(tmpl_set_add(set, "", "x", 1, &e), -1);
    assert_string_equal(e.msg, "a template needs a name");
    expect_set(set, "t", "{}", "first");
    tmpl_set_free(set);
}

static char *nested(int depth)
{
    char *s = malloc((size_t)depth * 12 + 2);
    assert_non_null(s);
    char *p = s;
    for (int i = 0; i < depth; i++)
        p += sprintf(p, "{{#a}}");
    *p++ = 'x';
    for (int i = 0; i < depth; i++)
        p += sprintf(p, "{{/a}}");
    *p = '\0';
    return s;
}

static void test_depth_limit(void **state)
{
    (void)state;
    char *ok = nested(64);
    expect(ok, "{\"a\": true}", "x");
    expect(ok, "{\"a\": [1]}", "x");
    free(ok);
    char *deep = nested(65);
    expect_load_error(deep, 1, 64 * 6 + 1, "sections nested deeper than 64");
    free(deep);
}

static void test_check_reports_partial(void **state)
{
    (void)state;
    struct tmpl_set *set = tmpl_set_new();
    assert_non_null(set);
    struct err e = {0};
    const char *text = "<p>\n  {{> footer }}";
    assert_int_equal(tmpl_set_add(set, "page", text, strlen(text), &e), 0);
    assert_int_equal(tmpl_set_check(set, &e), -1);
    assert_string_equal(e.file, "page");
    assert_int_equal(e.line, 2);
    assert_int_equal(e.col, 3);
    assert_string_equal(e.msg, "partial \"footer\" is not a template of the set");
    tmpl_set_free(set);
}

static const char page_ctx[] =
    "{\"title\": \"Анкета <1>\", \"t\": {\"programme\": \"Старт\", \"empty\": \"Пусто\"},"
    " \"questions\": [{\"id\": \"q1\", \"text\": \"Как дела?\", \"required\": true},"
    " {\"id\": \"q\\\"2\", \"text\": \"A & B\"}]}";
static const char page_want[] =
    "<!doctype html>\n<title>Анкета &lt;1&gt;</title>\n<h1>Анкета &lt;1&gt; — Старт</h1>\n\n"
    "<ul>\n<li id=\"q-q1\" class=\"required\">Как дела? (Старт)</li>"
    "<li id=\"q-q&quot;2\" class=\"\">A &amp; B (Старт)</li>\n\n</ul>\n";

static void test_load_dir(void **state)
{
    (void)state;
    struct tmpl_set *set = NULL;
    struct err e = {0};
    if (tmpl_set_load_dir("tests/data/tmpl/good", &set, &e) != 0)
        fail_msg("%s: %s", e.file, e.msg);
    assert_int_equal(tmpl_exists(set, "page"), 1);
    assert_int_equal(tmpl_exists(set, "header"), 1);
    assert_int_equal(tmpl_exists(set, "item"), 1);
    assert_int_equal(tmpl_exists(set, "ignored"), 0);
    assert_int_equal(tmpl_exists(set, "page.html"), 0);
    expect_set(set, "page", page_ctx, page_want);
    expect_set(set, "page", "{\"title\": \"T\", \"t\": {\"empty\": \"Пусто\"}}",
               "<!doctype html>\n<title>T</title>\n<h1>T — </h1>\n\n<ul>\n\n<p>Пусто</p>\n"
               "</ul>\n");
    tmpl_set_free(set);
}

static void test_load_dir_errors(void **state)
{
    (void)state;
    struct tmpl_set *set = (struct tmpl_set *)1;
    struct err e = {0};
    char line[1024];
    assert_int_equal(tmpl_set_load_dir("tests/data/tmpl/bad_syntax", &set, &e), -1);
    assert_null(set);
    err_format(&e, line, sizeof line);
    assert_string_equal(line, "tests/data/tmpl/bad_syntax/form.html:3:5: section \"questions\" "
                              "opened here is never closed");
    assert_int_equal(tmpl_set_load_dir("tests/data/tmpl/bad_partial", &set, &e), -1);
    assert_null(set);
    err_format(&e, line, sizeof line);
    assert_string_equal(line, "tests/data/tmpl/bad_partial/b.html:3:5: partial \"row\" is not "
                              "a template of the set");
    assert_int_equal(tmpl_set_load_dir("tests/data/tmpl/no-such-dir", &set, &e), -1);
    assert_null(set);
    err_format(&e, line, sizeof line);
    assert_string_equal(line, "tests/data/tmpl/no-such-dir: cannot open the template "
                              "directory: No such file or directory");
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void remove_file(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(unlink(path), 0);
}

static void test_load_dir_tmp(void **state)
{
    (void)state;
    char dir[] = "/tmp/anketa-tmpl-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct tmpl_set *set = NULL;
    struct err e = {0};
    /* An empty directory is an empty set. */
    assert_int_equal(tmpl_set_load_dir(dir, &set, &e), 0);
    assert_int_equal(tmpl_exists(set, "x"), 0);
    tmpl_set_free(set);

    write_file(dir, "b.html", "{{#x}}");
    write_file(dir, "a.html", "{{/y}}");
    write_file(dir, ".hidden.html", "{{");
    write_file(dir, "c.htm", "{{");
    /* Files are compiled in name order, so the error is always the one of a.html. */
    assert_int_equal(tmpl_set_load_dir(dir, &set, &e), -1);
    char want[512];
    snprintf(want, sizeof want, "%s/a.html", dir);
    assert_string_equal(e.file, want);
    assert_string_equal(e.msg, "\"{{/y}}\" closes no open section");
    remove_file(dir, "a.html");
    remove_file(dir, "b.html");

    write_file(dir, "x.html", "X{{>y}}");
    write_file(dir, "y.html", "Y");
    assert_int_equal(tmpl_set_load_dir(dir, &set, &e), 0);
    expect_set(set, "x", NULL, "XY");
    tmpl_set_free(set);
    remove_file(dir, "x.html");
    remove_file(dir, "y.html");
    remove_file(dir, ".hidden.html");
    remove_file(dir, "c.htm");
    assert_int_equal(rmdir(dir), 0);
}

/* Renders into a fresh arena and checks that nothing but the output buffer was allocated. */
static void test_render_allocates_only_output(void **state)
{
    (void)state;
    struct tmpl_set *set = NULL;
    struct err e = {0};
    assert_int_equal(tmpl_set_load_dir("tests/data/tmpl/good", &set, &e), 0);
    json_t *ctx = parse(page_ctx);
    struct arena *a = arena_new();
    struct buf b;
    buf_init(&b, a);
    assert_int_equal(tmpl_render(set, "page", ctx, &b, &e), 0);
    assert_string_equal(b.data, page_want);
    assert_int_equal(arena_used(a), b.cap);
    arena_free(a);
    json_decref(ctx);
    tmpl_set_free(set);
}

static void test_load_out_of_memory(void **state)
{
    (void)state;
    int failures = 0;
    for (long n = 1;; n++) {
        struct tmpl_set *set = (struct tmpl_set *)1;
        struct err e = {0};
        arena_fail_after(n);
        int rc = tmpl_set_load_dir("tests/data/tmpl/good", &set, &e);
        arena_fail_after(0);
        if (rc == 0) {
            expect_set(set, "page", page_ctx, page_want);
            tmpl_set_free(set);
            break;
        }
        assert_int_equal(rc, -1);
        assert_null(set);
        assert_string_equal(e.msg, "out of memory");
        failures++;
    }
    assert_true(failures > 5);
}

static void test_add_out_of_memory(void **state)
{
    (void)state;
    const char *text = "{{#a}}{{b.c.d}}{{>p}}{{/a}}{{^e}}{{.}}{{/e}}";
    int failures = 0;
    for (long n = 1;; n++) {
        struct err e = {0};
        arena_fail_after(n);
        struct tmpl_set *set = tmpl_set_new();
        int rc = set ? tmpl_set_add(set, "t", text, strlen(text), &e) : -1;
        if (rc == 0)
            rc = tmpl_set_add(set, "p", "P", 1, &e);
        arena_fail_after(0);
        if (rc == 0) {
            assert_int_equal(tmpl_set_check(set, &e), 0);
            expect_set(set, "t", "{\"a\": 1, \"b\": {\"c\": {\"d\": \"D\"}}}", "DP");
            tmpl_set_free(set);
            break;
        }
        if (set) {
            assert_string_equal(e.msg, "out of memory");
            tmpl_set_free(set);
        }
        failures++;
    }
    assert_true(failures > 5);
}

static void test_render_out_of_memory(void **state)
{
    (void)state;
    struct tmpl_set *set = one("{{#items}}<li>{{name}} &mdash; {{n}}</li>\n{{/items}}");
    json_t *items = json_array();
    for (int i = 0; i < 2000; i++)
        json_array_append_new(items, json_pack("{s:s,s:i}", "name", "<имя>", "n", i));
    json_t *ctx = json_pack("{s:o}", "items", items);
    assert_non_null(ctx);
    int failures = 0;
    for (long n = 1;; n++) {
        struct arena *a = arena_new();
        assert_non_null(a);
        struct buf b;
        buf_init(&b, a);
        struct err e = {0};
        arena_fail_after(n);
        int rc = tmpl_render(set, "t", ctx, &b, &e);
        arena_fail_after(0);
        if (rc == 0) {
            assert_int_equal(buf_failed(&b), 0);
            assert_memory_equal(b.data, "<li>&lt;имя&gt; &mdash; 0</li>\n", 34);
            assert_non_null(strstr(b.data, "<li>&lt;имя&gt; &mdash; 1999</li>\n"));
            arena_free(a);
            break;
        }
        assert_int_equal(rc, -1);
        assert_int_equal(buf_failed(&b), 1);
        assert_string_equal(e.msg, "out of memory rendering template \"t\"");
        arena_free(a);
        failures++;
    }
    assert_true(failures > 3);
    json_decref(ctx);
    tmpl_set_free(set);
}

/* Found by fuzzing: sections over arrays nested in each other (or in partials that include
 * each other) multiply their work, here 8^10 visits; the rendering stops with a located
 * error instead of running for hours. */
static void test_runaway_rendering_stops(void **state)
{
    (void)state;
    char text[256] = "";
    for (int i = 0; i < 10; i++)
        strcat(text, "{{#l}}");
    strcat(text, "x");
    for (int i = 0; i < 10; i++)
        strcat(text, "{{/l}}");
    struct tmpl_set *set = tmpl_set_new();
    struct err e = {0};
    assert_non_null(set);
    assert_int_equal(tmpl_set_add(set, "t", text, strlen(text), &e), 0);
    json_t *ctx = json_pack("{s:[i,i,i,i,i,i,i,i]}", "l", 1, 2, 3, 4, 5, 6, 7, 8);
    struct arena *a = arena_new();
    struct buf out;
    buf_init(&out, a);
    int rc = tmpl_render(set, "t", ctx, &out, &e);
    json_decref(ctx);
    arena_free(a);
    tmpl_set_free(set);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(e.msg, "do partials include each other inside sections?"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_variables),
        cmocka_unit_test(test_runaway_rendering_stops),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_dotted),
        cmocka_unit_test(test_context_stack),
        cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_inverted),
        cmocka_unit_test(test_truthiness),
        cmocka_unit_test(test_scalar_section),
        cmocka_unit_test(test_comments_and_braces),
        cmocka_unit_test(test_cyrillic),
        cmocka_unit_test(test_partials),
        cmocka_unit_test(test_recursive_partial),
        cmocka_unit_test(test_partial_loop),
        cmocka_unit_test(test_render_errors),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_duplicate_name),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_check_reports_partial),
        cmocka_unit_test(test_load_dir),
        cmocka_unit_test(test_load_dir_errors),
        cmocka_unit_test(test_load_dir_tmp),
        cmocka_unit_test(test_render_allocates_only_output),
        cmocka_unit_test(test_load_out_of_memory),
        cmocka_unit_test(test_add_out_of_memory),
        cmocka_unit_test(test_render_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
