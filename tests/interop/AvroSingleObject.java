// Apache Avro's own single-object codec (BinaryMessageDecoder/Encoder), driven by
// tests/unit/test_codec_interop.py to check our wire format against the reference.
// Usage: java -cp 'LIBS/*' AvroSingleObject.java SCHEMA.avsc < messages.hex
// Each stdin line is one message (hex). For each, Java decodes it (rejecting a wrong
// header), prints the record as JSON, then re-encodes it with its own encoder and
// prints that message (hex): line pairs "json", "hex".
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.util.HexFormat;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;

public class AvroSingleObject {
  public static void main(String[] args) throws Exception {
    Schema schema = new Schema.Parser().parse(new File(args[0]));
    BinaryMessageDecoder<GenericRecord> decoder =
        new BinaryMessageDecoder<>(GenericData.get(), schema);
    BinaryMessageEncoder<GenericRecord> encoder =
        new BinaryMessageEncoder<>(GenericData.get(), schema);
    HexFormat hex = HexFormat.of();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isBlank()) continue;
      try {
        GenericRecord record = decoder.decode(hex.parseHex(line.trim()));
        System.out.println(GenericData.get().toString(record));
        ByteBuffer buf = encoder.encode(record);
        byte[] out = new byte[buf.remaining()];
        buf.get(out);
        System.out.println(hex.formatHex(out));
      } catch (Exception e) {
        System.out.println("ERROR " + e.getClass().getSimpleName() + ": " + e.getMessage());
        System.out.println("-");
      }
    }
  }
}
