package dev.steadyrun.trainer.data;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;

/** GPT-2's byte-level BPE (tiktoken's {@code r50k_base}), as OPT used it. */
public final class Gpt2Tokenizer {

    public static final String NAME = "r50k_base";
    /** {@code <|endoftext|>}, written after every document. */
    public static final int EOT = 50256;
    /** Token ids are 0..50256; OPT pads the embedding to 50,272 rows. */
    public static final int VOCAB_SIZE = 50257;

    /** Loading the merge table takes about a second; the encoding is immutable, so one instance serves all. */
    private static final Encoding ENCODING =
            Encodings.newDefaultEncodingRegistry().getEncoding(EncodingType.R50K_BASE);

    /** Token ids of {@code text}; special-token text such as "&lt;|endoftext|&gt;" is encoded as ordinary text. */
    public int[] encode(String text) {
        return ENCODING.encodeOrdinary(text).toArray();
    }

    public String decode(int[] tokens) {
        IntArrayList list = new IntArrayList(tokens.length);
        for (int t : tokens) {
            list.add(t);
        }
        return ENCODING.decode(list);
    }
}
