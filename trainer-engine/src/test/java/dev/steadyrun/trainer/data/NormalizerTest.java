package dev.steadyrun.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class NormalizerTest {

    @Test
    void lineEndingsBecomeLf() {
        assertThat(Normalizer.normalize("a\r\nb\rc\u2028d\u2029e\u0085f\u000Bg\u000Ch"))
                .isEqualTo("a\nb\nc\nd\ne\nf\ng\nh");
    }

    @Test
    void unicodeSpacesBecomeAsciiSpaceAndBomIsDropped() {
        assertThat(Normalizer.normalize("\uFEFFa\u00A0b\u2003c\u3000d\u202Fe\u205Ff\u1680g"))
                .isEqualTo("a b c d e f g");
    }

    @Test
    void trailingSpacesAndTabsGoIndentationAndInnerRunsStay() {
        assertThat(Normalizer.normalize("  indented  \t\nx   y\t\t \nz\u00A0\u00A0"))
                .isEqualTo("  indented\nx   y\nz");
    }

    @Test
    void runsOfBlankLinesCollapseToOne() {
        assertThat(Normalizer.normalize("a\n\n\n\nb\n \n\t\n  \nc\n\nd")).isEqualTo("a\n\nb\n\nc\n\nd");
    }

    @Test
    void leadingAndTrailingBlankLinesAreRemoved() {
        assertThat(Normalizer.normalize("\n\n  \r\n  x\n\n\n  ")).isEqualTo("  x");
        assertThat(Normalizer.normalize(" \n\t\r\n\u00A0")).isEmpty();
    }

    @Test
    void alreadyNormalTextIsUnchanged() {
        String text = "Title\n\nFirst paragraph, with  two spaces.\n\tCode line\nLast.";
        assertThat(Normalizer.normalize(text)).isEqualTo(text);
        assertThat(Normalizer.normalize(Normalizer.normalize("a \r\n\r\n\r\nb "))).isEqualTo("a\n\nb");
    }
}
