/**
 * The tfjs models of the examples, scripts/bench-tfjs-fit.ts and the tfjs tests, as ordinary
 * tf.sequential code:
 *   fm16Sequential   the NiNo paper's FM-16 conv net (official `Net(hid=(16,32,32))`, 14,378 parameters).
 *                    PyTorch Conv2d(padding=0, stride 2) = tfjs 'valid'; Conv2d(padding=1, stride 1) =
 *                    'same'; AdaptiveAvgPool2d(1) + Flatten = GlobalAveragePooling2D.
 *   tutorialConvNet  the tfjs-tutorial pattern conv -> pool -> conv -> pool -> Flatten -> Dense (5x5x16
 *                    flattened map: NiNo's graph gives each flattened position its own neuron).
 */
import * as tf from '@tensorflow/tfjs';

/** FM-16 as tfjs layers: Conv(s2, valid) ReLU, Conv(s1, same) ReLU, Conv(s1, same) ReLU, GAP, Dense. */
export function fm16Sequential(
  hid: [number, number, number] = [16, 32, 32],
  inChannels = 1,
  numClasses = 10,
  imageSize = 28,
): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [imageSize, imageSize, inChannels],
        filters: hid[0],
        kernelSize: 3,
        strides: 2,
        padding: 'valid',
        activation: 'relu',
      }),
      tf.layers.conv2d({ filters: hid[1], kernelSize: 3, strides: 1, padding: 'same', activation: 'relu' }),
      tf.layers.conv2d({ filters: hid[2], kernelSize: 3, strides: 1, padding: 'same', activation: 'relu' }),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: numClasses }),
    ],
  });
}

/** conv(8) -> maxpool -> conv(16) -> maxpool -> Flatten -> Dense(10, softmax or logits): 5,258 parameters on 28x28x1 */
export function tutorialConvNet(
  shape: [number, number, number] = [28, 28, 1],
  numClasses = 10,
  softmax = true,
): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: shape, filters: 8, kernelSize: 3, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: numClasses, activation: softmax ? 'softmax' : 'linear' }),
    ],
  });
}
