/** @jsxImportSource preact */
/// <reference lib="dom" />
// A message's text as people expect it: links clickable, a safe subset of
// Markdown (bold, italics, code, code blocks, quotes, lists) and @mentions
// of the group's members highlighted.
//
// Nothing here sets HTML. marked turns the text into HTML with every HTML
// token of the input escaped (a message's `<b>` or `<script>` is text);
// DOMPurify, allowed only the tags below and http(s)/mailto links, parses
// that into a detached fragment; and the fragment is copied, element by
// element from the same short list, into Preact nodes. A link opens in a new
// tab with rel="noopener noreferrer".
import DOMPurify from "dompurify";
import { Marked } from "marked";
import type { ComponentChildren } from "preact";

const TAGS = ["p", "br", "strong", "b", "em", "i", "code", "pre", "blockquote", "a", "ul", "ol", "li"] as const;
type Tag = (typeof TAGS)[number];
const ALLOWED = new Set<string>(TAGS);
const LINK = /^(?:https?:|mailto:)/i;

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const marked = new Marked({ gfm: true, breaks: true, async: false });
marked.use({
  // Chat text is not a document: no headings, rules, tables, link definitions,
  // indented code or strikethrough; what would have been one stays as typed.
  tokenizer: { heading: () => undefined, lheading: () => undefined, hr: () => undefined, table: () => undefined, def: () => undefined, code: () => undefined, del: () => undefined },
  renderer: {
    // HTML in a message is text.
    html: ({ text }) => escapeHtml(text),
    // No pictures from elsewhere: ![alt](url) is a link.
    image: ({ href, text }) => `<a href="${escapeHtml(href)}">${escapeHtml(text || href)}</a>`,
  },
});

/** A parsed message: text, or one of the allowed elements. */
type Node = string | { tag: Tag; href?: string; start?: number; children: Node[] };

const BLOCKS = new Set(["blockquote", "ul", "ol"]);

function copy(from: globalThis.Node, parent: string): Node[] {
  const out: Node[] = [];
  for (const n of from.childNodes) {
    if (n.nodeType === 3) {
      const text = n.textContent ?? "";
      // The line breaks marked writes between blocks are not part of the message.
      if ((parent === "" || BLOCKS.has(parent)) && !text.trim()) continue;
      out.push(text);
    } else if (n.nodeType === 1) {
      const el = n as Element;
      const tag = el.tagName.toLowerCase();
      const children = copy(el, tag);
      if (!ALLOWED.has(tag)) {
        out.push(...children);
        continue;
      }
      const node: Node = { tag: tag as Tag, children };
      if (tag === "a") {
        const href = el.getAttribute("href") ?? "";
        if (!LINK.test(href)) {
          out.push(...children); // a link that is not http(s) or mailto: its text only
          continue;
        }
        node.href = href;
      }
      if (tag === "ol") {
        const start = Number(el.getAttribute("start"));
        if (Number.isInteger(start) && start > 1) node.start = start;
      }
      out.push(node);
    }
  }
  return out;
}

const cache = new Map<string, Node[]>();

/** The message's text parsed and sanitized (cached: the whole list renders again on each change). */
export function parse(content: string): Node[] {
  let nodes = cache.get(content);
  if (nodes) return nodes;
  const html = marked.parse(content) as string;
  const fragment = DOMPurify.sanitize(html, {
    ALLOWED_TAGS: [...TAGS],
    ALLOWED_ATTR: ["href", "start"],
    ALLOWED_URI_REGEXP: LINK,
    RETURN_DOM_FRAGMENT: true,
  });
  nodes = copy(fragment, "");
  if (cache.size > 1000) cache.clear();
  cache.set(content, nodes);
  return nodes;
}

const textOf = (nodes: Node[]): string => nodes.map((n) => (typeof n === "string" ? n : (n.tag === "br" ? " " : "") + textOf(n.children) + " ")).join("");

/** The text as one line, Markdown marks left out (previews). */
export const plain = (content: string) => textOf(parse(content)).replace(/\s+/g, " ").trim();

// ---------- @mentions ----------

// As the server reads them (src/domain/mentions.ts): an account is letters,
// digits and _ . - @; a word character before the @ makes it an address; the
// name must end where a name may end (@ann, mentions ann, @annx does not).
const ACCOUNT_CHAR = /[A-Za-z0-9_.\-@]/;
const WORD_CHAR = /[A-Za-z0-9_]/;

/** Accounts that can be mentioned (lowercase; "all" is everyone) and mine. */
export type Mentionable = { accounts: Set<string>; me: string };

/** The text with each mention of a member in a <span class="mention"> (and "to-me" when it is mine or @all). */
export function mentions(text: string, who: Mentionable | undefined): ComponentChildren {
  if (!who || !text.includes("@")) return text;
  const out: ComponentChildren[] = [];
  let from = 0;
  for (let i = text.indexOf("@"); i >= 0; i = text.indexOf("@", i + 1)) {
    if (i > 0 && WORD_CHAR.test(text[i - 1]!)) continue;
    let j = i + 1;
    while (j < text.length && ACCOUNT_CHAR.test(text[j]!)) j++;
    const run = text.slice(i + 1, j).toLowerCase();
    for (let k = run.length; k >= 3; k--) {
      if (k < run.length && WORD_CHAR.test(run[k]!)) continue;
      const name = run.slice(0, k);
      if (name !== "all" && !who.accounts.has(name)) continue;
      if (i > from) out.push(text.slice(from, i));
      const mine = name === "all" || name === who.me;
      out.push(
        <span class={mine ? "mention to-me" : "mention"} key={i}>
          {text.slice(i, i + 1 + k)}
        </span>,
      );
      from = i + 1 + k;
      i = from - 1;
      break;
    }
  }
  if (from === 0) return text;
  if (from < text.length) out.push(text.slice(from));
  return out;
}

// ---------- rendering ----------

function render(nodes: Node[], who: Mentionable | undefined, literal: boolean): ComponentChildren[] {
  return nodes.map((n, i) => {
    if (typeof n === "string") return literal ? n : mentions(n, who);
    const kids = render(n.children, who, literal || n.tag === "code" || n.tag === "pre" || n.tag === "a");
    switch (n.tag) {
      case "a":
        return (
          <a key={i} href={n.href} target="_blank" rel="noopener noreferrer">
            {kids}
          </a>
        );
      case "ol":
        return (
          <ol key={i} start={n.start}>
            {kids}
          </ol>
        );
      case "br":
        return <br key={i} />;
      default: {
        const El = n.tag;
        return <El key={i}>{kids}</El>;
      }
    }
  });
}

/** A message's text: Markdown's safe subset, links, mentions. */
export function RichText({ content, who }: { content: string; who?: Mentionable }) {
  return <>{render(parse(content), who, false)}</>;
}
