package dev.steadyrun.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

/** The control channel's lines: what the agent writes the trainer reads back, and the other way round. */
class TrainerControlTest {

    @Test
    void messagesAndRepliesRoundTripAndStayApartFromMetricLines() {
        var assign = new TrainerControl.Assign(List.of("train", "--rank", "1"), "s3cret");
        assertThat(TrainerControl.parseMessage(TrainerControl.write(assign))).contains(assign);
        var leave = new TrainerControl.Leave(7);
        assertThat(TrainerControl.parseMessage(TrainerControl.write(leave))).contains(leave);
        var left = new TrainerControl.Left(7, 143);
        assertThat(TrainerControl.parseReply(TrainerControl.write(left))).contains(left);
        assertThat(TrainerControl.parseReply(TrainerControl.write(new TrainerControl.Hello())))
                .contains(new TrainerControl.Hello(TrainerControl.Hello.TYPE, TrainerControl.VERSION));

        // the agent reads replies among the metric lines on stdout: neither is taken for the other
        String checkpoint = TrainerLines.write(new CheckpointWritten(3, 10, "/c", 1, 2, "ab", 5));
        assertThat(TrainerControl.parseReply(checkpoint)).isEmpty();
        assertThat(TrainerLines.parse(TrainerControl.write(left))).isEmpty();
        assertThat(TrainerControl.parseReply(TrainerControl.write(leave))).as("a message is no reply").isEmpty();
        assertThat(TrainerControl.parseReply("not json {")).isEmpty();
        assertThat(TrainerControl.parseMessage("{broken")).isEmpty();
    }
}
