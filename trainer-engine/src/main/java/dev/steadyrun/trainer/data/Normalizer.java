package dev.steadyrun.trainer.data;

/**
 * Whitespace normalization, applied to a source's documents when its spec says {@code normalize=true}. The rules,
 * in the order they act on each character:
 * <ol>
 *   <li>Line endings: CR LF, a lone CR, NEL (U+0085), LINE and PARAGRAPH SEPARATOR (U+2028, U+2029), vertical tab
 *       and form feed all become LF.</li>
 *   <li>Unicode spaces: every space separator (category Zs: no-break space U+00A0, U+1680, U+2000–U+200A,
 *       U+202F, U+205F, U+3000) becomes an ASCII space; a byte-order mark (U+FEFF) is removed. Tabs are kept.</li>
 *   <li>Trailing spaces and tabs at the end of every line are removed (leading indentation is kept).</li>
 *   <li>Runs of blank lines collapse to one blank line, i.e. at most two LFs in a row.</li>
 *   <li>Blank lines at the start and the end of the document are removed; the result has no final LF.</li>
 * </ol>
 * Nothing else changes: runs of spaces inside a line, case, punctuation and other characters are kept.
 */
public final class Normalizer {

    private Normalizer() {
    }

    public static String normalize(String text) {
        StringBuilder out = new StringBuilder(text.length());
        int pendingNewlines = 0;     // LFs not yet written: decided at the next visible character
        StringBuilder spaces = new StringBuilder();
        int n = text.length();
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            if (c == '\r') {
                if (i + 1 < n && text.charAt(i + 1) == '\n') {
                    i++;
                }
                c = '\n';
            } else if (c == '\u0085' || c == '\u2028' || c == '\u2029' || c == '\u000B' || c == '\u000C') {
                c = '\n';
            } else if (c == '\uFEFF') {
                continue;
            } else if (c != ' ' && Character.getType(c) == Character.SPACE_SEPARATOR) {
                c = ' ';
            }
            if (c == '\n') {
                spaces.setLength(0);
                pendingNewlines++;
            } else if (c == ' ' || c == '\t') {
                spaces.append(c);
            } else {
                if (pendingNewlines > 0 && out.length() > 0) {
                    out.append(pendingNewlines == 1 ? "\n" : "\n\n");
                }
                pendingNewlines = 0;
                out.append(spaces).append(c);
                spaces.setLength(0);
            }
        }
        return out.toString();
    }
}
