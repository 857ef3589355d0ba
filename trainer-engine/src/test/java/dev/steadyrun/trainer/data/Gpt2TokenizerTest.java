package dev.steadyrun.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class Gpt2TokenizerTest {

    private final Gpt2Tokenizer tokenizer = new Gpt2Tokenizer();

    @Test
    void knownGpt2Ids() {
        assertThat(tokenizer.encode("Hello world")).containsExactly(15496, 995);
        assertThat(tokenizer.encode(" the")).containsExactly(262);
        assertThat(tokenizer.encode("\n")).containsExactly(198);
    }

    @Test
    void endOfTextTextIsOrdinaryTextNotTheSpecialToken() {
        int[] ids = tokenizer.encode("<|endoftext|>");
        assertThat(ids).doesNotContain(Gpt2Tokenizer.EOT).hasSizeGreaterThan(1);
        assertThat(tokenizer.decode(new int[] {Gpt2Tokenizer.EOT})).isEqualTo("<|endoftext|>");
    }

    @Test
    void multilingualTextRoundTripsAndIdsFitTheVocabulary() {
        String text = "Ελληνικά, Deutsch: Größe, 日本語, emoji 🎉 and tabs\tand  spaces.";
        int[] ids = tokenizer.encode(text);
        assertThat(java.util.Arrays.stream(ids).allMatch(id -> id >= 0 && id < Gpt2Tokenizer.VOCAB_SIZE)).isTrue();
        assertThat(tokenizer.decode(ids)).isEqualTo(text);
    }
}
